"""Two-step verification: the RFC 6238 maths, enrolment, the sign-in step, replay, recovery codes."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.test import Client

from orgwarden.accounts import crypto, hooks, otp
from orgwarden.accounts.models import Account, RecoveryCode
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 27, 12, 0, 10, tzinfo=UTC)

# RFC 6238 appendix B, SHA-1 column: (unix time, 8-digit TOTP) for the ASCII seed "1234567890" * 2.
RFC_6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_6238_SHA1)
def test_rfc_6238_test_vectors(unix_time, expected):
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert otp.code_at_step(secret, otp.time_step(unix_time), digits=8, digest=hashlib.sha1) == expected


def test_a_code_matches_its_step_with_one_step_of_drift_and_never_twice():
    secret = otp.new_secret()
    now = T0.timestamp()
    step = otp.time_step(now)
    current = otp.code_at_step(secret, step)
    assert otp.matching_step(secret, current, unix_time=now, last_step=None) == step
    assert (
        otp.matching_step(secret, otp.code_at_step(secret, step - 1), unix_time=now, last_step=None)
        == step - 1
    )
    assert (
        otp.matching_step(secret, otp.code_at_step(secret, step + 1), unix_time=now, last_step=None)
        == step + 1
    )
    assert (
        otp.matching_step(secret, otp.code_at_step(secret, step - 2), unix_time=now, last_step=None) is None
    )
    assert otp.matching_step(secret, current, unix_time=now, last_step=step) is None  # replay
    assert otp.matching_step(secret, "12345", unix_time=now, last_step=None) is None
    assert otp.matching_step(secret, "abcdef", unix_time=now, last_step=None) is None


def test_the_provisioning_uri_names_the_installation_as_issuer(settings):
    settings.INSTALLATION_NAME = "Acme Access"
    uri = otp.provisioning_uri(otp.new_secret(), account_name="ann@acme.test", issuer="Acme Access")
    parsed = pyotp.parse_uri(uri)
    assert parsed.issuer == "Acme Access" and parsed.name == "ann@acme.test"
    assert parsed.digits == 6 and parsed.interval == 30


def _enrol(client: Client) -> tuple[str, list[str]]:
    page = client.get("/account/two-step/setup?new=1")
    assert page.status_code == 200 and b"data:image/svg+xml" in page.content
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")
    done = client.post(
        "/account/two-step/setup", {"code": pyotp.TOTP(secret).now(), "current_proof": PASSWORD}
    )
    assert done.status_code == 200, done.content[:500]
    codes = re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", done.content.decode())
    return secret, codes


@pytest.fixture
def enrolled(account):
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    with time_machine.travel(T0, tick=False):
        secret, codes = _enrol(client)
    account.refresh_from_db()
    return account, secret, codes


def test_enrolment_stores_the_secret_encrypted_and_ten_hashed_recovery_codes(enrolled):
    account, secret, codes = enrolled
    assert account.has_two_step and len(codes) == 10 and len(set(codes)) == 10
    assert secret not in account.totp_secret and crypto.decrypt(account.totp_secret) == secret
    stored = set(RecoveryCode.objects.filter(account=account).values_list("code_hash", flat=True))
    assert stored == {otp.recovery_code_hash(code) for code in codes}
    assert not any(code in stored for code in codes)
    assert AuditEvent.objects.filter(action="account:2sv:enabled", actor_id=account.account_id).count() == 1


def test_a_first_enrolment_from_the_settings_needs_the_password(account):
    """A session alone (a borrowed laptop, a stolen cookie) could put two-step verification on an
    app of someone else's and lock the owner out: turning it on from the settings asks for the
    password, as turning it off does. The sign-in's own enrolment step (right after the password)
    does not ask again: ``policies/tests`` enrol through it."""
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    page = client.get("/account/two-step/setup?new=1")
    assert b'name="current_proof"' in page.content and b"Your password" in page.content
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")
    for proof in ({}, {"current_proof": "not-the-password"}):
        refused = client.post("/account/two-step/setup", {"code": pyotp.TOTP(secret).now(), **proof})
        assert refused.status_code == 400
    account.refresh_from_db()
    assert not account.has_two_step and not RecoveryCode.objects.exists()
    assert not AuditEvent.objects.filter(action="account:2sv:enabled").exists()
    done = client.post(
        "/account/two-step/setup", {"code": pyotp.TOTP(secret).now(), "current_proof": PASSWORD}
    )
    assert done.status_code == 200 and Account.objects.get(pk=account.pk).has_two_step


def test_turning_two_step_on_ends_every_other_session(account, sign_in, password):
    """As a password change does: a session signed in with the password alone — perhaps by whoever
    the owner is locking out — does not outlive the second step it never passed."""
    other, here = Client(), Client()
    sign_in(other, account.email)
    sign_in(here, account.email)
    assert other.get("/account/").status_code == 200
    page = here.get("/account/two-step/setup?new=1").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    done = here.post("/account/two-step/setup", {"code": pyotp.TOTP(secret).now(), "current_proof": password})
    assert done.status_code == 200
    assert here.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302  # signed out: back to sign-in
    event = AuditEvent.objects.get(action="account:2sv:enabled")
    assert event.details == {"other_sessions_ended": 1}


def test_enrolment_refuses_a_wrong_code_and_changes_nothing(account):
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    client.get("/account/two-step/setup?new=1")
    response = client.post("/account/two-step/setup", {"code": "000000", "current_proof": PASSWORD})
    assert response.status_code == 400 and b"not valid" in response.content
    account.refresh_from_db()
    assert not account.has_two_step and not RecoveryCode.objects.exists()
    assert not AuditEvent.objects.filter(action="account:2sv:enabled").exists()


def _to_code_step(client: Client, email: str, password: str):
    client.post("/login", {"email": email})
    response = client.post("/login/step/password", {"password": password})
    assert response.status_code == 302 and response["Location"] == "/login/step/two_step"
    return response


def _signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_sign_in_asks_for_a_code_and_refuses_a_replay(enrolled, password):
    account, secret, _ = enrolled
    at = datetime(2026, 11, 27, 12, 5, 0, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        code = pyotp.TOTP(secret).at(at)
        first = Client()
        _to_code_step(first, account.email, password)
        assert not _signed_in(first)
        done = first.post("/login/step/two_step", {"code": code})
        assert done.status_code == 302 and _signed_in(first)
        event = AuditEvent.objects.filter(action="account:signin:succeeded").latest("id")
        assert event.details["method"] == "password+totp"

        second = Client()
        _to_code_step(second, account.email, password)
        replay = second.post("/login/step/two_step", {"code": code})
        assert replay.status_code == 400 and not _signed_in(second)
        assert AuditEvent.objects.filter(action="account:2sv:failed").count() == 1


@pytest.mark.parametrize(
    "to_digits",
    [lambda d: chr(0xFF10 + int(d)), lambda d: chr(0x0660 + int(d))],
    ids=["fullwidth", "arabic-indic"],
)
def test_a_code_in_other_scripts_digits_is_refused_not_a_500(enrolled, password, to_digits):
    """Fullwidth or Arabic-Indic digits pass ``str.isdigit``; the code is a form error, 2SV unchanged."""
    account, secret, _ = enrolled
    with time_machine.travel(datetime(2026, 11, 27, 12, 5, 0, tzinfo=UTC), tick=False):
        code = "".join(to_digits(d) for d in pyotp.TOTP(secret).now())
        client = Client()
        _to_code_step(client, account.email, password)
        response = client.post("/login/step/two_step", {"code": code})
        assert response.status_code == 400 and b"not valid" in response.content
        assert not _signed_in(client)
        enrolling = Client()
        enrolling.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
        enrolling.get("/account/two-step/setup?new=1")
        refused = enrolling.post("/account/two-step/setup", {"code": code, "current_proof": password})
        assert refused.status_code == 400 and b"not valid" in refused.content
    before = account.totp_secret
    account.refresh_from_db()
    assert account.totp_secret == before


def test_a_recovery_code_works_once(enrolled, password):
    account, _, codes = enrolled
    client = Client()
    _to_code_step(client, account.email, password)
    used = client.post("/login/step/two_step", {"code": codes[0].upper()})
    assert used.status_code == 302 and _signed_in(client)
    assert AuditEvent.objects.get(action="account:2sv:recovery_code_used").details["recovery_codes_left"] == 9

    again = Client()
    _to_code_step(again, account.email, password)
    assert again.post("/login/step/two_step", {"code": codes[0]}).status_code == 400
    assert not _signed_in(again)


def test_wrong_codes_are_throttled_per_account(enrolled, password):
    account, secret, _ = enrolled
    at = datetime(2026, 11, 27, 13, 0, 0, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        client = Client()
        _to_code_step(client, account.email, password)
        for _ in range(10):
            assert client.post("/login/step/two_step", {"code": "000000"}).status_code == 400
        refused = client.post("/login/step/two_step", {"code": pyotp.TOTP(secret).at(at)})
        assert refused.status_code == 429 and not _signed_in(client)
        assert AuditEvent.objects.filter(
            action="account:2sv:failed", details__reason="too_many_attempts"
        ).exists()
    with time_machine.travel(datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC), tick=False):
        client = Client()
        _to_code_step(client, account.email, password)
        later = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
        assert client.post("/login/step/two_step", {"code": pyotp.TOTP(secret).at(later)}).status_code == 302


def test_going_to_the_code_step_without_a_password_is_refused(enrolled):
    account, secret, _ = enrolled
    client = Client()
    client.post("/login", {"email": account.email})
    response = client.post("/login/step/two_step", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == "/login/step/password"
    assert not _signed_in(client)


def test_turning_off_needs_the_password_and_is_refused_when_required(enrolled, password):
    account, _, _ = enrolled
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    client.post("/account/two-step/disable", {"password": "wrong-password"})
    account.refresh_from_db()
    assert account.has_two_step

    hooks.two_step_required.append(lambda a: "Acme requires two-step verification.")
    try:
        client.post("/account/two-step/disable", {"password": password})
        account.refresh_from_db()
        assert account.has_two_step
    finally:
        hooks.two_step_required.pop()

    client.post("/account/two-step/disable", {"password": password})
    account.refresh_from_db()
    assert not account.has_two_step and not RecoveryCode.objects.filter(account=account).exists()
    assert AuditEvent.objects.filter(action="account:2sv:disabled").count() == 1


def test_regenerating_recovery_codes_replaces_the_old_ones(enrolled, password):
    account, _, old_codes = enrolled
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    response = client.post("/account/two-step/recovery-codes", {"password": password})
    new_codes = re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    hashes = set(RecoveryCode.objects.filter(account=account).values_list("code_hash", flat=True))
    assert otp.recovery_code_hash(old_codes[0]) not in hashes
    assert AuditEvent.objects.filter(action="account:2sv:recovery_codes_regenerated").count() == 1


def test_an_account_without_two_step_signs_in_with_the_password_only(password):
    account = AccountFactory()
    client = Client()
    client.post("/login", {"email": account.email})
    response = client.post("/login/step/password", {"password": password})
    assert response.status_code == 302 and response["Location"] != "/login/step/two_step"
    assert Account.objects.get(pk=account.pk).totp_secret == ""


def _new_app_secret(client: Client) -> str:
    page = client.get("/account/two-step/setup?new=1")
    assert page.status_code == 200
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")


@contextmanager
def _moving_to_a_new_app(account: Account, *, has_password: bool = True) -> Iterator[tuple[Client, str]]:
    """A signed-in client of ``account`` on the new-app page two minutes after enrolment, and the
    new app's secret; with ``has_password=False`` the account has none (it proves itself by a code)."""
    if not has_password:
        account.set_unusable_password()
        account.save()
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        yield client, _new_app_secret(client)


def test_moving_to_a_new_app_needs_the_password(enrolled, password):
    """It used to need only the session: whoever held one could put their own app in its place."""
    account, old_secret, _ = enrolled
    with _moving_to_a_new_app(account) as (client, new_secret):
        assert b'name="current_proof"' in client.get("/account/two-step/setup").content
        for proof in ({}, {"current_proof": "wrong-password"}):
            refused = client.post("/account/two-step/setup", {"code": pyotp.TOTP(new_secret).now(), **proof})
            assert refused.status_code == 400
            account.refresh_from_db()
            assert crypto.decrypt(account.totp_secret) == old_secret
        moved = client.post(
            "/account/two-step/setup", {"code": pyotp.TOTP(new_secret).now(), "current_proof": password}
        )
    assert moved.status_code == 200
    account.refresh_from_db()
    assert crypto.decrypt(account.totp_secret) == new_secret
    assert AuditEvent.objects.filter(action="account:2sv:enabled").count() == 2


def test_without_a_password_moving_needs_a_code_of_the_current_app(enrolled):
    account, old_secret, _ = enrolled
    with _moving_to_a_new_app(account, has_password=False) as (client, new_secret):
        refused = client.post(
            "/account/two-step/setup", {"code": pyotp.TOTP(new_secret).now(), "current_proof": "000000"}
        )
        assert refused.status_code == 400 and b"current app" in refused.content
        moved = client.post(
            "/account/two-step/setup",
            {"code": pyotp.TOTP(new_secret).now(), "current_proof": pyotp.TOTP(old_secret).now()},
        )
    assert moved.status_code == 200
    account.refresh_from_db()
    assert crypto.decrypt(account.totp_secret) == new_secret


@pytest.mark.parametrize("has_password", [True, False])
@pytest.mark.parametrize(
    "proof",
    ["a\x00b", "\x00", "x" * 100_000, "١٢٣٤٥٦", "123 456", "-1", "9" * 40, "%ED%A0%80", "xxxx-xxxx-xxxx\x00"],
)
def test_odd_current_proofs_when_moving_are_form_errors_and_change_nothing(enrolled, has_password, proof):
    """The re-enrolment's proof (password, or a code of the current app) with hostile values: a 400
    form answer, the old app kept; never a 500 (PostgreSQL refuses NUL in text)."""
    account, old_secret, _ = enrolled
    with _moving_to_a_new_app(account, has_password=has_password) as (client, new_secret):
        if proof.startswith("%"):  # bytes no text holds (a lone surrogate), sent as the browser would
            body = f"code={pyotp.TOTP(new_secret).now()}&current_proof={proof}"
            response = client.post(
                "/account/two-step/setup", body, content_type="application/x-www-form-urlencoded"
            )
        else:
            response = client.post(
                "/account/two-step/setup", {"code": pyotp.TOTP(new_secret).now(), "current_proof": proof}
            )
    assert response.status_code == 400, response.status_code
    account.refresh_from_db()
    assert crypto.decrypt(account.totp_secret) == old_secret
