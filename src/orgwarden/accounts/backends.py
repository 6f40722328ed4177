"""Authentication backend: email + password, only for active accounts."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from orgwarden.accounts.models import Account, normalize_email


class AccountBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        email = kwargs.get("email", username)
        if email is None or password is None:
            return None
        try:
            account = Account.objects.get(email=normalize_email(email))
        except Account.DoesNotExist:
            # Spend the same time as a real check so response times do not reveal which emails exist.
            Account().set_password(password)
            return None
        if account.check_password(password) and self.user_can_authenticate(account):
            return account
        return None

    def get_user(self, user_id):
        try:
            account = Account.objects.get(pk=user_id)
        except Account.DoesNotExist:
            return None
        return account if account.is_active else None
