"""accounts.services: each write records exactly one event, and a refused write changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone

from orgwarden.accounts import emails, services
from orgwarden.accounts.exceptions import (
    EmailTaken,
    InvalidInput,
    InvalidLink,
    InvalidPassword,
    SessionNotFound,
    SignupDisabled,
    WrongPassword,
)
from orgwarden.accounts.models import Account, Session, SignInLink, stored_session_key
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor

pytestmark = pytest.mark.django_db

STRONG = "a long and unusual passphrase 7"


def _session(account: Account | None, key: str) -> Session:
    """A live session of ``account`` whose cookie would carry ``key`` (the row keeps its hash)."""
    return Session.objects.create(
        session_key=stored_session_key(key),
        session_data="",
        expire_date=timezone.now() + timedelta(days=1),
        account=account,
    )


def _link_token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


# --- account_create / account_signup ---------------------------------------------------------------


def test_account_create_lowercases_email_records_event_and_queues_verification(
    one_event, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        account = services.account_create(
            email="  Ann.Smith@Example.COM ", display_name="Ann", password=STRONG
        )
    assert account.email == "ann.smith@example.com"
    assert account.check_password(STRONG) and not account.email_verified
    assert account.password_changed_at is not None
    event = one_event("account:created")
    assert event.actor_type == "account" and event.actor_id == account.account_id
    assert event.targets == [
        {"type": "account", "id": account.account_id, "name": "Ann", "email": "ann.smith@example.com"}
    ]
    assert event.org_id == "" and event.details == {"via": "signup"}
    assert len(callbacks) == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["ann.smith@example.com"]
    assert "/verify-email/" in mailoutbox[0].body


def test_account_create_sends_nothing_before_commit(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.account_create(email="ann@example.com", display_name="Ann", password=STRONG)
    assert len(callbacks) == 1 and mailoutbox == []


def test_account_create_verified_sends_no_email(django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        account = services.account_create(
            email="ann@example.com", display_name="", password=None, email_verified=True
        )
    assert account.display_name == "ann" and not account.has_usable_password()
    assert mailoutbox == []


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", " Taken@Example.com"])
def test_account_create_refuses_a_taken_email_in_any_case(email):
    AccountFactory(email="taken@example.com")
    before = AuditEvent.objects.count()
    with pytest.raises(EmailTaken):
        services.account_create(email=email, display_name="Copy", password=STRONG)
    assert Account.objects.count() == 1 and AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short1x", "too short"),
        ("password123", "too common"),
        ("83749201847361", "entirely numeric"),
        ("x" * 101, "too long"),
        ("ann.smith.example", "too similar"),
    ],
)
def test_account_create_refuses_weak_passwords_listing_the_rules(password, fragment, mailoutbox):
    with pytest.raises(InvalidPassword) as caught:
        services.account_create(email="ann.smith@example.com", display_name="Ann Smith", password=password)
    assert any(fragment in message for message in caught.value.messages), caught.value.messages
    assert not Account.objects.exists() and not AuditEvent.objects.exists()
    assert mailoutbox == []


def test_password_of_exactly_100_characters_is_accepted():
    account = services.account_create(email="ann@example.com", display_name="Ann", password="k7#" + "q" * 97)
    assert account.has_usable_password()


def test_invalid_password_lists_every_failed_rule():
    with pytest.raises(InvalidPassword) as caught:
        services.account_create(email="ann@example.com", display_name="Ann", password="1234")
    assert len(caught.value.messages) >= 3  # too short, too common, entirely numeric


def test_account_create_refuses_an_overlong_display_name():
    with pytest.raises(InvalidInput):
        services.account_create(email="ann@example.com", display_name="n" * 151, password=STRONG)
    assert not Account.objects.exists() and not AuditEvent.objects.exists()


def test_account_signup_refused_when_disabled(settings):
    settings.SIGNUP_ENABLED = False
    with pytest.raises(SignupDisabled):
        services.account_signup(email="ann@example.com", display_name="Ann", password=STRONG)
    assert not Account.objects.exists() and not AuditEvent.objects.exists()


def test_account_signup_when_enabled(settings, one_event):
    settings.SIGNUP_ENABLED = True
    account = services.account_signup(email="ann@example.com", display_name="Ann", password=STRONG)
    assert one_event("account:created").actor_id == account.account_id


# --- email verification ------------------------------------------------------------------------------


def _verification_token(account: Account, django_capture_on_commit_callbacks, mailoutbox) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verification_send(account=account)
    match = re.search(r"/verify-email/(\S+)", mailoutbox[-1].body)
    assert match
    return match.group(1)


def test_email_verify_with_a_good_token(one_event, django_capture_on_commit_callbacks, mailoutbox):
    account = AccountFactory(email_verified=False)
    token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
    one_event("account:email:verification_sent")
    assert services.email_verify(token=token, signed_in=account) == account
    account.refresh_from_db()
    assert account.email_verified
    event = one_event("account:email:verified")
    assert event.actor_id == account.account_id and event.targets[0]["id"] == account.account_id
    # A second use is harmless and records nothing more (verified: no password asked).
    services.email_verify(token=token)
    one_event("account:email:verified")


def test_email_verify_outside_the_accounts_session_needs_its_password(
    django_capture_on_commit_callbacks, mailoutbox
):
    """Someone signed up with another person's address: that person, following the link, must not
    make the stranger's password the password of a verified account."""
    from orgwarden.accounts.tests.factories import PASSWORD

    account = AccountFactory(email_verified=False)
    someone_else = AccountFactory()
    token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
    for signed_in, password in ((None, ""), (None, "a guess"), (someone_else, ""), (someone_else, "a guess")):
        with pytest.raises(WrongPassword):
            services.email_verify(token=token, signed_in=signed_in, password=password)
    account.refresh_from_db()
    assert not account.email_verified
    assert not AuditEvent.objects.filter(action="account:email:verified").exists()
    assert services.email_verify(token=token, password=PASSWORD) == account
    account.refresh_from_db()
    assert account.email_verified


def test_email_verify_with_a_password_is_throttled_as_sign_in_is(
    django_capture_on_commit_callbacks, mailoutbox
):
    from orgwarden.accounts.exceptions import TooManyAttempts
    from orgwarden.accounts.tests.factories import PASSWORD

    account = AccountFactory(email_verified=False)
    token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
    with pytest.raises(TooManyAttempts):
        for _ in range(50):
            with pytest.raises(WrongPassword):
                services.email_verify(token=token, password="a guess")
    with pytest.raises(TooManyAttempts):  # even the right one, until the wait is over
        services.email_verify(token=token, password=PASSWORD)
    account.refresh_from_db()
    assert not account.email_verified


def test_email_verify_of_an_account_without_a_password_needs_none(
    django_capture_on_commit_callbacks, mailoutbox
):
    account = AccountFactory(email_verified=False)
    account.set_unusable_password()
    account.save()
    token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
    assert services.email_verify(token=token).email_verified


def test_email_verify_refuses_a_tampered_token(django_capture_on_commit_callbacks, mailoutbox):
    account = AccountFactory(email_verified=False)
    token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [tampered, "garbage", ""]:
        with pytest.raises(InvalidLink):
            services.email_verify(token=bad)
    account.refresh_from_db()
    assert not account.email_verified
    assert not AuditEvent.objects.filter(action="account:email:verified").exists()


def test_email_verify_refuses_an_expired_token(django_capture_on_commit_callbacks, mailoutbox):
    account = AccountFactory(email_verified=False)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
        clock.shift(services.EMAIL_VERIFICATION_MAX_AGE + timedelta(minutes=1))
        with pytest.raises(InvalidLink):
            services.email_verify(token=token)
    account.refresh_from_db()
    assert not account.email_verified


def test_email_verify_refuses_a_token_for_a_changed_email(django_capture_on_commit_callbacks, mailoutbox):
    account = AccountFactory(email_verified=False)
    token = _verification_token(account, django_capture_on_commit_callbacks, mailoutbox)
    Account.objects.filter(pk=account.pk).update(email="new@example.com")
    with pytest.raises(InvalidLink):
        services.email_verify(token=token)


# --- profile -----------------------------------------------------------------------------------------


def test_profile_update_records_the_change(account, one_event):
    old = account.display_name
    services.profile_update(account=account, display_name="  New Name ")
    account.refresh_from_db()
    assert account.display_name == "New Name"
    assert one_event("account:profile:updated").details == {
        "changed": {"display_name": {"from": old, "to": "New Name"}}
    }


@pytest.mark.parametrize("name", ["", "   ", "n" * 151])
def test_profile_update_refuses_bad_names(account, name):
    old = account.display_name
    with pytest.raises(InvalidInput):
        services.profile_update(account=account, display_name=name)
    account.refresh_from_db()
    assert account.display_name == old and not AuditEvent.objects.exists()


# --- password change and reset -----------------------------------------------------------------------


def test_password_change_refuses_a_wrong_current_password(account, password):
    _session(account, "k" * 32)
    with pytest.raises(WrongPassword):
        services.password_change(
            account=account, current_password="nope", new_password=STRONG, keep_session_key=None
        )
    account.refresh_from_db()
    assert account.check_password(password)
    assert Session.objects.count() == 1 and not AuditEvent.objects.exists()


def test_password_change_refuses_a_weak_new_password(account, password):
    with pytest.raises(InvalidPassword):
        services.password_change(
            account=account, current_password=password, new_password="123", keep_session_key=None
        )
    account.refresh_from_db()
    assert account.check_password(password) and not AuditEvent.objects.exists()


def test_password_change_ends_other_sessions_but_keeps_the_current_one(account, password, one_event):
    other = AccountFactory()
    current, elsewhere = _session(account, "c" * 32), _session(account, "e" * 32)
    strangers = _session(other, "s" * 32)
    services.password_change(
        account=account, current_password=password, new_password=STRONG, keep_session_key="c" * 32
    )
    account.refresh_from_db()
    assert account.check_password(STRONG)
    remaining = set(Session.objects.values_list("session_key", flat=True))
    assert remaining == {current.session_key, strangers.session_key}
    assert elsewhere.session_key not in remaining
    event = one_event("account:password:changed")
    assert event.actor_id == account.account_id and event.details == {"other_sessions_ended": 1}


def test_password_change_without_a_usable_password_needs_no_current_one(one_event):
    account = AccountFactory(password=None)
    account.set_unusable_password()
    account.save()
    services.password_change(account=account, current_password="", new_password=STRONG, keep_session_key=None)
    account.refresh_from_db()
    assert account.check_password(STRONG)
    one_event("account:password:changed")


def test_password_reset_request_for_an_unknown_email_sends_nothing(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        services.password_reset_request(email="nobody@example.com")
    emails.background_drain()  # what was handed to the background senders has left
    assert mailoutbox == [] and not AuditEvent.objects.exists()


def test_password_reset_request_for_a_deactivated_account_sends_nothing(
    django_capture_on_commit_callbacks, mailoutbox
):
    account = AccountFactory(status=Account.Status.DEACTIVATED)
    with django_capture_on_commit_callbacks(execute=True):
        services.password_reset_request(email=account.email)
    emails.background_drain()
    assert mailoutbox == [] and not AuditEvent.objects.exists()


def _reset_link(account, django_capture_on_commit_callbacks, mailoutbox) -> tuple[str, str]:
    with django_capture_on_commit_callbacks(execute=True):
        services.password_reset_request(email=account.email.upper())
    emails.background_drain()  # the reset email leaves in the background
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [account.email]
    match = re.search(r"/password-reset/([0-9a-f]+)/(\S+)", mailoutbox[0].body)
    assert match, mailoutbox[0].body
    return match.group(1), match.group(2)


def test_password_reset_request_emails_a_link(
    account, one_event, django_capture_on_commit_callbacks, mailoutbox
):
    account_id, _token = _reset_link(account, django_capture_on_commit_callbacks, mailoutbox)
    assert account_id == account.account_id
    assert "http://testserver/password-reset/" in mailoutbox[0].body
    event = one_event("account:password:reset_requested")
    assert event.actor_type == "anonymous" and event.targets[0]["id"] == account.account_id


def test_password_reset_complete_works_once_and_ends_every_session(
    account, one_event, django_capture_on_commit_callbacks, mailoutbox
):
    Account.objects.filter(pk=account.pk).update(email_verified=False)
    account.refresh_from_db()
    _session(account, "a" * 32)
    _session(account, "b" * 32)
    account_id, token = _reset_link(account, django_capture_on_commit_callbacks, mailoutbox)
    services.password_reset_complete(account_id=account_id, token=token, new_password=STRONG)
    account.refresh_from_db()
    assert account.check_password(STRONG) and account.email_verified
    assert not Session.objects.filter(account=account).exists()
    assert one_event("account:password:reset").details == {"sessions_ended": 2}
    with pytest.raises(InvalidLink):
        services.password_reset_complete(account_id=account_id, token=token, new_password=STRONG + "x")
    account.refresh_from_db()
    assert account.check_password(STRONG)


def test_password_reset_complete_refuses_a_weak_password_and_keeps_the_link(account, password):
    token = default_token_generator.make_token(account)
    with pytest.raises(InvalidPassword):
        services.password_reset_complete(account_id=account.account_id, token=token, new_password="123")
    account.refresh_from_db()
    assert account.check_password(password) and not AuditEvent.objects.exists()
    assert services.password_reset_account(account_id=account.account_id, token=token) == account


@pytest.mark.parametrize("account_id", ["0" * 24, "", "x" * 500, "a\x00b"])
def test_password_reset_refuses_forged_links(account, account_id):
    token = default_token_generator.make_token(account)
    with pytest.raises(InvalidLink):
        services.password_reset_account(account_id=account_id, token=token)
    with pytest.raises(InvalidLink):
        services.password_reset_account(account_id=account.account_id, token="1-forged")


def test_password_reset_link_expires(account, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = default_token_generator.make_token(account)
        clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60))
        with pytest.raises(InvalidLink):
            services.password_reset_account(account_id=account.account_id, token=token)


# --- sessions ----------------------------------------------------------------------------------------


def test_session_end_ends_own_session(account, one_event):
    session = _session(account, "m" * 32)
    services.session_end(account=account, session_id=session.session_key)
    assert not Session.objects.exists()
    event = one_event("account:session:ended")
    assert event.actor_id == account.account_id and event.targets[0]["id"] == account.account_id


def test_session_end_refuses_someone_elses_session(account):
    theirs = _session(AccountFactory(), "t" * 32)
    # theirs, by what the page would show and by the cookie's key; and nonsense
    for key in [theirs.session_key, "t" * 32, "unknown", "", "a\x00b"]:
        with pytest.raises(SessionNotFound):
            services.session_end(account=account, session_id=key)
    assert Session.objects.count() == 1 and not AuditEvent.objects.exists()


def test_sessions_end_all_keeping_the_current_one(account, one_event):
    keep = _session(account, "k" * 32)
    _session(account, "x" * 32)
    _session(account, "y" * 32)
    other = _session(AccountFactory(), "o" * 32)
    ended = services.sessions_end_all(
        account=account, actor=Actor.account(account), keep_session_key="k" * 32
    )
    assert ended == 2
    assert set(Session.objects.values_list("session_key", flat=True)) == {keep.session_key, other.session_key}
    event = one_event("account:sessions:ended_all")
    assert event.details == {"sessions_ended": 2, "kept_current": True}
    assert event.actor_id == account.account_id and event.org_id == ""


def test_sessions_end_all_by_an_admin_is_recorded_in_the_org(account, one_event):
    admin = AccountFactory()
    _session(account, "x" * 32)
    assert services.sessions_end_all(account=account, actor=Actor.account(admin), org_id="org1") == 1
    assert not Session.objects.exists()
    event = one_event("account:sessions:ended_all")
    assert event.actor_id == admin.account_id and event.org_id == "org1"
    assert event.targets[0]["id"] == account.account_id
    assert event.details == {"sessions_ended": 1, "kept_current": False}


# --- one-time sign-in links --------------------------------------------------------------------------


def test_signin_link_works_once(account, one_event):
    url = services.signin_link_create(account=account, actor=Actor.system(), org_id="o1")
    assert url.startswith("http://testserver/login/link/")
    created = one_event("account:signin_link:created")
    assert created.actor_type == "system" and created.org_id == "o1"
    token = _link_token(url)
    assert SignInLink.objects.get().token_hash != token  # stored hashed
    assert services.signin_link_consume(token=token) == account
    assert one_event("account:signin_link:used").actor_id == account.account_id
    with pytest.raises(InvalidLink):
        services.signin_link_consume(token=token)
    one_event("account:signin_link:used")


def test_signin_link_expires(account):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        token = _link_token(services.signin_link_create(account=account, actor=Actor.system()))
        clock.shift(services.SIGNIN_LINK_LIFETIME + timedelta(seconds=1))
        with pytest.raises(InvalidLink):
            services.signin_link_consume(token=token)
    assert SignInLink.objects.get().used_at is None
    assert not AuditEvent.objects.filter(action="account:signin_link:used").exists()


def test_signin_link_refused_for_a_deactivated_account(account):
    token = _link_token(services.signin_link_create(account=account, actor=Actor.system()))
    Account.objects.filter(pk=account.pk).update(status=Account.Status.DEACTIVATED)
    with pytest.raises(InvalidLink):
        services.signin_link_consume(token=token)
    with pytest.raises(InvalidLink):
        services.signin_link_consume(token="not-a-token")
