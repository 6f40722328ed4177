"""Server-side sessions: who they belong to, where they are used from, and ending them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone

from orgwarden.accounts import services
from orgwarden.accounts.models import Session, stored_session_key
from orgwarden.accounts.tests.conftest import IP, USER_AGENT
from orgwarden.audit.services import Actor

pytestmark = pytest.mark.django_db

STRONG = "a long and unusual passphrase 7"


def _key(client: Client) -> str:
    """The session key in ``client``'s cookie."""
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _row(client: Client) -> str:
    """What the sessions table (and the sessions page) keeps of ``client``'s session key."""
    return stored_session_key(_key(client))


def _signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def test_signing_in_creates_a_session_row_with_account_ip_and_agent(browser, account, sign_in):
    sign_in(browser, account.email)
    session = Session.objects.get(session_key=_row(browser))
    assert session.account == account
    assert session.ip == IP and session.user_agent == USER_AGENT
    assert Session.objects.filter(account=account).count() == 1


def test_signing_in_replaces_the_pre_sign_in_session_key(browser, account, password):
    browser.post("/login", {"email": account.email})
    before = _key(browser)
    browser.post("/login/step/password", {"password": password})
    assert _key(browser) != before
    assert not Session.objects.filter(session_key=stored_session_key(before)).exists()


def test_last_seen_is_kept_current(browser, account, sign_in):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(browser, account.email)
        browser.get("/account/")
        first = Session.objects.get(session_key=_row(browser)).last_seen_at
        assert first is not None
        clock.shift(timedelta(minutes=5))
        browser.get("/account/", REMOTE_ADDR="198.51.100.20")
        session = Session.objects.get(session_key=_row(browser))
        assert session.last_seen_at == first + timedelta(minutes=5)
        assert session.ip == "198.51.100.20"


def test_security_page_lists_the_sessions(browser, account, sign_in):
    sign_in(browser, account.email)
    other = Client(HTTP_USER_AGENT="Other Browser 1.0", REMOTE_ADDR="198.51.100.9")
    sign_in(other, account.email)
    page = browser.get("/account/security/")
    assert page.status_code == 200
    content = page.content.decode()
    assert USER_AGENT in content and "Other Browser 1.0" in content
    assert "198.51.100.9" in content and "This session" in content
    assert f"/account/sessions/{_row(other)}/end" in content


def test_the_sessions_table_says_just_now_and_names_the_device_in_words(account, sign_in):
    chrome_mac = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36"
    )
    client = Client(HTTP_USER_AGENT=chrome_mac, REMOTE_ADDR=IP)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(client, account.email)
        page = client.get("/account/security/").content.decode()
        assert "just now" in page and "0 minutes" not in page
        # The short form is what the cell reads; the whole agent stays at hand in its title.
        assert f'<span title="{chrome_mac}">Chrome on macOS</span>' in page
        clock.shift(timedelta(hours=2))
        other = Client(HTTP_USER_AGENT="Other Browser 1.0", REMOTE_ADDR="198.51.100.9")
        sign_in(other, account.email)
        page = other.get("/account/security/").content.decode()
        assert "2 hours ago" in page and "just now" in page


def test_ending_a_session_from_the_page_signs_that_client_out(browser, account, sign_in, one_event):
    sign_in(browser, account.email)
    other = Client(HTTP_USER_AGENT="Other Browser 1.0", REMOTE_ADDR="198.51.100.9")
    sign_in(other, account.email)
    response = browser.post(f"/account/sessions/{_row(other)}/end")
    assert response.status_code == 302 and response["Location"] == "/account/security/"
    assert not _signed_in(other)
    assert _signed_in(browser)
    event = one_event("account:session:ended")
    assert event.actor_id == account.account_id and event.details["ip"] == "198.51.100.9"


def test_ending_the_current_session_signs_out_cleanly(browser, account, sign_in):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(browser, account.email)
        key = _row(browser)
        # A minute later the activity middleware writes to the session in the same request.
        clock.shift(timedelta(minutes=2))
        response = browser.post(f"/account/sessions/{key}/end")
        assert response.status_code == 302 and response["Location"] == "/login"
        assert not Session.objects.filter(session_key=key).exists()
        assert not _signed_in(browser)


def test_ending_someone_elses_session_is_a_404(browser, account, sign_in, password):
    from orgwarden.accounts.tests.factories import AccountFactory

    stranger = AccountFactory()
    theirs = Client()
    sign_in(theirs, stranger.email)
    sign_in(browser, account.email)
    response = browser.post(f"/account/sessions/{_row(theirs)}/end")
    assert response.status_code == 404
    assert _signed_in(theirs)


def test_ending_a_session_is_post_only(browser, account, sign_in):
    sign_in(browser, account.email)
    assert browser.get(f"/account/sessions/{_row(browser)}/end").status_code == 405
    assert _signed_in(browser)


def test_sign_out_everywhere_else_keeps_this_session(browser, account, sign_in, one_event):
    sign_in(browser, account.email)
    others = [Client(), Client()]
    for client in others:
        sign_in(client, account.email)
    response = browser.post("/account/sessions/end-all", {"keep_current": "1"})
    assert response["Location"] == "/account/security/"
    assert _signed_in(browser)
    assert not any(_signed_in(client) for client in others)
    assert one_event("account:sessions:ended_all").details == {"sessions_ended": 2, "kept_current": True}


def test_sign_out_everywhere_ends_this_session_too(browser, account, sign_in):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in(browser, account.email)
        other = Client()
        sign_in(other, account.email)
        clock.shift(timedelta(minutes=2))
        response = browser.post("/account/sessions/end-all")
        assert response.status_code == 302 and response["Location"] == "/login"
        assert not _signed_in(browser) and not _signed_in(other)
        assert not Session.objects.filter(account=account).exists()


def test_sessions_end_all_service_with_keep_current(browser, account, sign_in):
    sign_in(browser, account.email)
    other = Client()
    sign_in(other, account.email)
    ended = services.sessions_end_all(
        account=account, actor=Actor.account(account), keep_session_key=_key(browser)
    )
    assert ended == 1
    assert _signed_in(browser) and not _signed_in(other)


def test_changing_the_password_signs_out_other_sessions_only(browser, account, sign_in, password, one_event):
    sign_in(browser, account.email)
    other = Client()
    sign_in(other, account.email)
    response = browser.post(
        "/account/security/",
        {"current_password": password, "new_password": STRONG, "confirm_password": STRONG},
    )
    assert response.status_code == 302
    assert _signed_in(browser) and not _signed_in(other)
    assert one_event("account:password:changed").details == {"other_sessions_ended": 1}


def test_changing_the_password_with_a_wrong_current_one_is_a_form_error(browser, account, sign_in):
    sign_in(browser, account.email)
    response = browser.post(
        "/account/security/",
        {"current_password": "wrong", "new_password": STRONG, "confirm_password": STRONG},
    )
    assert response.status_code == 400
    assert b"Your current password is not correct." in response.content
    account.refresh_from_db()
    assert not account.check_password(STRONG)


def test_mismatched_new_passwords_are_a_form_error(browser, account, sign_in, password):
    sign_in(browser, account.email)
    response = browser.post(
        "/account/security/",
        {"current_password": password, "new_password": STRONG, "confirm_password": STRONG + "x"},
    )
    assert response.status_code == 400 and b"do not match" in response.content


def test_account_pages_need_a_signed_in_person():
    client = Client()
    for path in ["/account/", "/account/security/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login?next=")


def test_the_table_and_the_sessions_page_hold_no_cookie_key(browser, account, sign_in):
    """A session key is a bearer secret: the row keeps its hash, and the page names sessions by that
    hash. The page used to print every session's key, so any script that could read it (and any
    copy of the table) had cookies that the HttpOnly flag was there to keep out of reach."""
    sign_in(browser, account.email)
    other = Client(HTTP_USER_AGENT="Other Browser 1.0")
    sign_in(other, account.email)
    keys = {_key(browser), _key(other)}
    stored = set(Session.objects.values_list("session_key", flat=True))
    assert stored == {stored_session_key(key) for key in keys} and not stored & keys
    page = browser.get("/account/security/").content.decode()
    assert not any(key in page for key in keys)
    assert all(f"/account/sessions/{row}/end" in page for row in stored)
    # what the table and the page show does not sign anyone in
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stored_session_key(_key(other))
    assert not _signed_in(thief)
    assert _signed_in(other)


def test_the_migration_hashes_the_keys_of_live_sessions_and_drops_expired_ones(browser, account, sign_in):
    from importlib import import_module

    from django.apps import apps

    step = import_module("orgwarden.accounts.migrations.0006_hashed_session_keys")
    sign_in(browser, account.email)
    key = _key(browser)
    # as an earlier version stored them: the key itself
    Session.objects.filter(session_key=stored_session_key(key)).update(session_key=key)
    Session.objects.create(
        session_key="e" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1), account=account
    )

    def cookie_signs_in() -> bool:  # a fresh client each time: a refused cookie is deleted
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        return _signed_in(client)

    assert not cookie_signs_in()  # today's code does not find a key stored as it is

    step.hash_keys(apps, None)

    assert list(Session.objects.values_list("session_key", flat=True)) == [stored_session_key(key)]
    assert cookie_signs_in()  # nobody is signed out by the upgrade
    step.hash_keys(apps, None)  # and running it again changes nothing
    assert cookie_signs_in()
