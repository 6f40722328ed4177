"""Django's database session engine, on our ``Session`` model that records whose session it is."""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore

from orgwarden.audit import context


class SessionStore(DbSessionStore):
    @classmethod
    def get_model_class(cls):
        from orgwarden.accounts.models import Session

        return Session

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        account_pk = data.get(SESSION_KEY)
        obj.account_id = int(account_pk) if account_pk else None
        try:
            existing = self.model.objects.only("created_at", "last_seen_at", "ip", "user_agent").get(
                session_key=obj.session_key
            )
        except self.model.DoesNotExist:
            ctx = context.current()
            obj.ip, obj.user_agent = ctx.ip, ctx.user_agent
        else:
            obj.created_at, obj.last_seen_at = existing.created_at, existing.last_seen_at
            obj.ip, obj.user_agent = existing.ip, existing.user_agent
        return obj
