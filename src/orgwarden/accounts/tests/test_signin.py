"""The email-first sign-in flow through the real views, throttling included."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from orgwarden.accounts import services
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.conftest import IP, USER_AGENT
from orgwarden.accounts.tests.factories import PASSWORD, AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor

pytestmark = pytest.mark.django_db

WRONG = "not the password at all"


def _signed_in(client: Client) -> bool:
    return client.get("/account/").status_code == 200


def _start(client: Client, email: str) -> None:
    response = client.post("/login", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/login/step/password"


def _minute_start():
    """A frozen instant in the middle of a minute, so the throttle's buckets are predictable."""
    return timezone.now().replace(second=20, microsecond=0)


def test_login_page_renders_and_prefills_the_email(browser):
    response = browser.get("/login?email=ann@example.com")
    assert response.status_code == 200
    assert b'value="ann@example.com"' in response.content


def test_email_then_password_signs_in_and_goes_home(browser, account, sign_in, one_event):
    assert not _signed_in(browser)
    response = sign_in(browser, account.email.upper())
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert _signed_in(browser)
    event = one_event("account:signin:succeeded")
    assert event.actor_id == account.account_id and event.details == {"method": "password"}
    assert event.ip == IP and event.user_agent == USER_AGENT


def test_password_page_shows_the_email_of_the_flow(browser, account):
    _start(browser, account.email)
    response = browser.get("/login/step/password")
    assert response.status_code == 200 and account.email.encode() in response.content


@pytest.mark.parametrize("next_url", ["/account/security/", "/admin/new?x=1"])
def test_local_next_is_followed(browser, account, sign_in, next_url):
    response = sign_in(browser, account.email, next_url=next_url)
    assert response["Location"] == next_url


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/x",
        "http://evil.example",
        "/\\evil.example",
        "https:///evil.example",
        "javascript:alert(1)",
    ],
)
def test_external_next_goes_to_the_console_home(browser, account, sign_in, next_url):
    response = sign_in(browser, account.email, next_url=next_url)
    assert response["Location"] == "/admin/"


def test_signed_in_person_visiting_login_is_sent_on(browser, account, sign_in):
    sign_in(browser, account.email)
    assert browser.get("/login?next=/account/")["Location"] == "/account/"
    assert browser.get("/login?next=https://evil.example/")["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("next_url", "location"),
    [("!", "!"), ("a\x00b", "a%00b"), ("home", "home"), ("accounts:logout", "/admin/")],
)
def test_signed_in_person_visiting_login_with_a_bare_word_next_is_not_a_500(
    browser, account, sign_in, next_url, location
):
    """A relative ``next`` stays relative (as after a sign-in); it is never looked up as a URL name."""
    sign_in(browser, account.email)
    response = browser.get("/login", {"next": next_url})
    assert response.status_code == 302 and response["Location"] == location


def test_wrong_password_is_refused_and_recorded(browser, account, one_event):
    _start(browser, account.email)
    response = browser.post("/login/step/password", {"password": WRONG})
    assert response.status_code == 400
    assert b"Incorrect email or password." in response.content
    assert not _signed_in(browser)
    event = one_event("account:signin:failed")
    assert event.actor_type == "account" and event.actor_id == account.account_id
    assert event.ip == IP and event.user_agent == USER_AGENT
    assert event.details == {"reason": "invalid_credentials", "email": account.email}


def test_unknown_email_gets_the_same_answer(browser, one_event):
    _start(browser, "Nobody@Example.com")
    response = browser.post("/login/step/password", {"password": WRONG})
    assert response.status_code == 400
    assert b"Incorrect email or password." in response.content
    event = one_event("account:signin:failed")
    assert event.actor_type == "anonymous" and event.actor_id == ""
    assert event.targets == [] and event.details["email"] == "nobody@example.com"
    assert event.ip == IP and event.user_agent == USER_AGENT


def test_empty_password_is_a_form_error(browser, account):
    _start(browser, account.email)
    response = browser.post("/login/step/password", {"password": ""})
    assert response.status_code == 400 and not AuditEvent.objects.exists()


def test_a_closed_account_cannot_sign_in(browser, password):
    account = AccountFactory(status=Account.Status.CLOSED)
    _start(browser, account.email)
    response = browser.post("/login/step/password", {"password": password})
    assert response.status_code == 400
    assert b"Incorrect email or password." in response.content
    assert not _signed_in(browser)


def test_a_deactivated_account_is_told_why_only_after_the_right_password(browser, password):
    account = AccountFactory(status=Account.Status.DEACTIVATED)
    _start(browser, account.email)
    wrong = browser.post("/login/step/password", {"password": "not-the-password"})
    assert wrong.status_code == 400 and b"Incorrect email or password." in wrong.content
    assert b"deactivated" not in wrong.content
    right = browser.post("/login/step/password", {"password": password})
    assert right.status_code == 403
    assert b"Your account is deactivated" in right.content
    assert not _signed_in(browser)
    assert AuditEvent.objects.filter(
        action="account:signin:failed", details__reason="account_deactivated"
    ).exists()


def test_deactivating_an_account_ends_its_signed_in_session(browser, account, sign_in):
    sign_in(browser, account.email)
    Account.objects.filter(pk=account.pk).update(status=Account.Status.DEACTIVATED)
    assert not _signed_in(browser)


def test_password_step_without_a_flow_goes_back_to_login(browser):
    for method in (browser.get, browser.post):
        response = method("/login/step/password")
        assert response.status_code == 302 and response["Location"] == "/login"


def test_unknown_step_goes_to_the_step_the_flow_needs(browser, account):
    _start(browser, account.email)
    response = browser.get("/login/step/totp")
    assert response["Location"] == "/login/step/password"


def test_a_stale_flow_is_forgotten(browser, account, password):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _start(browser, account.email)
        clock.shift(timedelta(minutes=16))
        response = browser.post("/login/step/password", {"password": password})
        assert response.status_code == 302 and response["Location"] == "/login"
        assert not _signed_in(browser)


def test_a_flow_younger_than_fifteen_minutes_still_works(browser, account, password):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _start(browser, account.email)
        clock.shift(timedelta(minutes=14))
        response = browser.post("/login/step/password", {"password": password})
        assert response["Location"] == "/admin/"


def test_eleventh_attempt_in_a_minute_is_refused_even_with_the_right_password(browser, account, password):
    with time_machine.travel(_minute_start(), tick=False) as clock:
        _start(browser, account.email)
        for _ in range(10):
            assert browser.post("/login/step/password", {"password": WRONG}).status_code == 400
        response = browser.post("/login/step/password", {"password": password})
        assert response.status_code == 429
        assert b"Too many attempts" in response.content
        assert not _signed_in(browser)
        throttled = AuditEvent.objects.get(action="account:signin:throttled")
        assert throttled.actor_id == account.account_id and throttled.ip == IP
        assert throttled.details["reason"] == "too_many_attempts"
        assert AuditEvent.objects.filter(action="account:signin:failed").count() == 10

        clock.shift(timedelta(minutes=2))
        response = browser.post("/login/step/password", {"password": password})
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert _signed_in(browser)


def test_nine_failures_do_not_block_the_right_password(browser, account, password):
    with time_machine.travel(_minute_start(), tick=False):
        _start(browser, account.email)
        for _ in range(9):
            browser.post("/login/step/password", {"password": WRONG})
        assert browser.post("/login/step/password", {"password": password}).status_code == 302


def test_per_account_throttle_holds_across_addresses(account, password):
    with time_machine.travel(_minute_start(), tick=False):
        for n in range(10):
            client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
            _start(client, account.email)
            assert client.post("/login/step/password", {"password": WRONG}).status_code == 400
        client = Client(REMOTE_ADDR="192.0.2.200")
        _start(client, account.email)
        assert client.post("/login/step/password", {"password": password}).status_code == 429


def test_per_address_throttle_holds_across_emails(browser, account, password):
    with time_machine.travel(_minute_start(), tick=False) as clock:
        for n in range(10):
            _start(browser, f"guess{n}@example.com")
            assert browser.post("/login/step/password", {"password": WRONG}).status_code == 400
        _start(browser, account.email)
        assert browser.post("/login/step/password", {"password": password}).status_code == 429
        # The same account from another address is not held back by this address's failures.
        elsewhere = Client(REMOTE_ADDR="192.0.2.99")
        _start(elsewhere, account.email)
        assert elsewhere.post("/login/step/password", {"password": password}).status_code == 302
        clock.shift(timedelta(minutes=2))
        assert browser.post("/login/step/password", {"password": password}).status_code == 302


def test_a_success_clears_the_account_failures(browser, account, password):
    with time_machine.travel(_minute_start(), tick=False):
        _start(browser, account.email)
        for _ in range(9):
            browser.post("/login/step/password", {"password": WRONG})
        assert browser.post("/login/step/password", {"password": password}).status_code == 302
        other = Client(REMOTE_ADDR="192.0.2.50")
        _start(other, account.email)
        for _ in range(9):
            assert other.post("/login/step/password", {"password": WRONG}).status_code == 400


def test_sign_out_is_post_only_and_recorded(browser, account, sign_in, one_event):
    sign_in(browser, account.email)
    assert browser.get("/logout").status_code == 405
    assert _signed_in(browser)
    response = browser.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/login"
    assert not _signed_in(browser)
    event = one_event("account:signout")
    assert event.actor_id == account.account_id and event.ip == IP


def test_sign_out_when_signed_out_records_nothing(browser):
    assert browser.post("/logout").status_code == 302
    assert not AuditEvent.objects.exists()


def test_signin_link_get_shows_a_button_and_post_signs_in(browser, account, one_event):
    url = services.signin_link_create(account=account, actor=Actor.system())
    path = url.removeprefix("http://testserver")
    assert browser.get(path).status_code == 200
    assert not AuditEvent.objects.filter(action="account:signin_link:used").exists()
    response = browser.post(path)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert _signed_in(browser)
    assert one_event("account:signin:succeeded").details == {"method": "link"}
    again = Client().post(path)
    assert again.status_code == 400 and b"invalid or has expired" in again.content


def test_signin_link_for_an_account_without_password_leads_to_choosing_one(browser, one_event):
    account = services.account_create(
        email="first@example.com", display_name="First", password=None, email_verified=True
    )
    path = services.signin_link_create(account=account, actor=Actor.system()).removeprefix(
        "http://testserver"
    )
    response = browser.post(path)
    assert response["Location"] == "/account/security/?set=1"
    page = browser.get("/account/security/")
    assert b"Choose a password" in page.content


def test_choosing_the_first_password_says_it_is_set_and_a_change_says_changed(browser):
    """After a one-time link (bootstrap, invitation) the first password was answered "Password
    changed. Your other sessions were signed out.": nothing was changed, and there were none."""
    account = services.account_create(
        email="first@example.com", display_name="First", password=None, email_verified=True
    )
    path = services.signin_link_create(account=account, actor=Actor.system()).removeprefix(
        "http://testserver"
    )
    browser.post(path)
    new = {"new_password": "a first long passphrase", "confirm_password": "a first long passphrase"}
    page = browser.post("/account/security/", new, follow=True)
    assert page.status_code == 200 and b"Password set." in page.content
    assert b"Password changed" not in page.content and b"sessions were signed out" not in page.content

    change = {"current_password": new["new_password"], "new_password": PASSWORD, "confirm_password": PASSWORD}
    page = browser.post("/account/security/", change, follow=True)
    assert b"Password changed. Your other sessions were signed out." in page.content


@pytest.mark.parametrize(
    ("hops", "forwarded", "recorded"),
    [
        # one proxy that appends what it saw: whatever the client wrote before it is not taken
        (1, "6.6.6.6, 198.51.100.20", "198.51.100.20"),
        (1, "198.51.100.20", "198.51.100.20"),
        # a CDN before the load balancer: the CDN saw the client
        (2, "6.6.6.6, 198.51.100.20, 192.0.2.1", "198.51.100.20"),
        (2, "198.51.100.20", IP),  # fewer entries than proxies: the header is not to be trusted
        (1, "not-an-address", IP),
        (0, "6.6.6.6", IP),  # not behind a proxy: the header is the client's
    ],
)
def test_the_recorded_address_behind_proxies_is_the_one_the_proxy_saw(
    browser, account, one_event, settings, hops, forwarded, recorded
):
    """It was the first X-Forwarded-For entry, which the client writes: any address it liked in the
    audit log, and a fresh one for each try past the per-address sign-in throttle."""
    settings.TRUST_X_FORWARDED_FOR = hops
    _start(browser, account.email)
    browser.post("/login/step/password", {"password": WRONG}, HTTP_X_FORWARDED_FOR=forwarded)
    assert one_event("account:signin:failed").ip == recorded
