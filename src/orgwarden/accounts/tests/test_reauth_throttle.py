"""Re-entering the current password (changing the password or the email, closing the account,
turning two-step verification off, new recovery codes) is throttled as the sign-in password step is:
a stolen session must not guess the password without limit. Through the real views; the eleventh
attempt in a minute is refused with a 429 even with the right password, and nothing changes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from orgwarden.accounts import otp, two_step
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.audit.models import AuditEvent

# Committed for real, as in production: a count written inside the refused change's transaction
# would be rolled back with it (the default cache is the database).
pytestmark = pytest.mark.django_db(transaction=True)
WRONG = "not the password at all"
NEW_PASSWORD = "a brand new passphrase 42"


def password_change(right: bool) -> tuple[str, dict]:
    return "/account/security/", {
        "current_password": PASSWORD if right else WRONG,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }


def email_change(right: bool) -> tuple[str, dict]:
    return "/account/email", {
        "new_email": "moved@example.org",
        "current_password": PASSWORD if right else WRONG,
    }


def account_close(right: bool) -> tuple[str, dict]:
    return "/account/close", {"current_password": PASSWORD if right else WRONG, "confirm": "on"}


def two_step_disable(right: bool) -> tuple[str, dict]:
    return "/account/two-step/disable", {"password": PASSWORD if right else WRONG}


def recovery_codes(right: bool) -> tuple[str, dict]:
    return "/account/two-step/recovery-codes", {"password": PASSWORD if right else WRONG}


def unchanged(account: Account, codes_before: set[str]) -> None:
    account.refresh_from_db()
    assert account.check_password(PASSWORD) and account.email.endswith("@example.com")
    assert account.status == Account.Status.ACTIVE and account.has_two_step
    assert set(account.recovery_codes.values_list("code_hash", flat=True)) == codes_before
    assert not AuditEvent.objects.filter(
        action__in=[
            "account:password:changed",
            "account:email:verification_sent",
            "account:closed",
            "account:2sv:disabled",
            "account:2sv:recovery_codes_regenerated",
        ]
    ).exists()


@pytest.mark.parametrize(
    "form", [password_change, email_change, account_close, two_step_disable, recovery_codes]
)
def test_the_eleventh_current_password_in_a_minute_is_refused_even_when_right(account, form):
    secret = otp.new_secret()
    two_step.two_step_enable(
        account=account,
        secret=secret,
        code=otp.code_at_step(secret, otp.time_step(time.time())),
        current_proof=PASSWORD,
    )
    codes_before = set(account.recovery_codes.values_list("code_hash", flat=True))
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    with time_machine.travel(timezone.now().replace(second=20, microsecond=0), tick=False) as clock:
        for _ in range(10):
            path, data = form(right=False)
            assert client.post(path, data).status_code in (302, 400)  # its own "wrong password" answer
        path, data = form(right=True)
        refused = client.post(path, data)
        assert refused.status_code == 429
        assert "Too many attempts. Wait" in refused.content.decode()
        unchanged(account, codes_before)
        clock.shift(timedelta(minutes=2))
        path, data = form(right=True)
        assert client.post(path, data).status_code in (200, 302)


@pytest.mark.parametrize("has_password", [True, False])
def test_moving_two_step_to_a_new_app_is_throttled_too(account, has_password):
    """Its proof of the current setup is the password, or for an account without one a code of the
    current app (throttled as the sign-in's code step: ten an hour)."""
    import re

    old = otp.new_secret()
    two_step.two_step_enable(
        account=account,
        secret=old,
        code=otp.code_at_step(old, otp.time_step(time.time())),
        current_proof=PASSWORD,
    )
    if not has_password:
        account.refresh_from_db()  # enabling saved another instance of the row
        account.set_unusable_password()
        account.save()
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    page = client.get("/account/two-step/setup?new=1").content.decode()
    new = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    with time_machine.travel(timezone.now().replace(second=20, microsecond=0), tick=False):
        now_code = otp.code_at_step(new, otp.time_step(time.time()))
        for _ in range(10):
            wrong = client.post("/account/two-step/setup", {"code": now_code, "current_proof": "000000"})
            assert wrong.status_code == 400
        right = PASSWORD if has_password else otp.code_at_step(old, otp.time_step(time.time()))
        refused = client.post("/account/two-step/setup", {"code": now_code, "current_proof": right})
        assert refused.status_code == 429 and "Too many attempts. Wait" in refused.content.decode()
    account.refresh_from_db()
    assert two_step.crypto.decrypt(account.totp_secret) == old
