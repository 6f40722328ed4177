"""Django's database session engine, on our ``Session`` model that records whose session it is.

The table keeps each key hashed (``accounts.models.stored_session_key``): the cookie carries the
key, the row its SHA-256. Every place Django's engine names a row by its key goes through
``_stored`` here; our own code filters with ``stored_session_key(request.session.session_key)``.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

from orgwarden.accounts.models import stored_session_key
from orgwarden.audit import context


def _stored(session_key: str | None) -> str | None:
    return None if session_key is None else stored_session_key(session_key)


class SessionStore(DbSessionStore):
    @classmethod
    def get_model_class(cls):
        from orgwarden.accounts.models import Session

        return Session

    def _get_session_from_db(self):
        try:
            return self.model.objects.get(
                session_key=_stored(self.session_key), expire_date__gt=timezone.now()
            )
        except (self.model.DoesNotExist, SuspiciousOperation) as exc:
            if isinstance(exc, SuspiciousOperation):
                logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
            self._session_key = None

    def exists(self, session_key):
        return self.model.objects.filter(session_key=_stored(session_key)).exists()

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key=_stored(session_key)).delete()

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        obj.session_key = _stored(obj.session_key)
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

    # The async doubles (orgwarden serves WSGI; these keep an async caller on the hashed rows too).
    async def _aget_session_from_db(self):
        return await sync_to_async(self._get_session_from_db)()

    async def aexists(self, session_key):
        return await sync_to_async(self.exists)(session_key)

    async def adelete(self, session_key=None):
        await sync_to_async(self.delete)(session_key)

    async def acreate_model_instance(self, data):
        return await sync_to_async(self.create_model_instance)(data)
