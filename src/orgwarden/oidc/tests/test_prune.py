"""``orgwarden oidc prune`` (a daily job): the tokens and codes nobody can use any more go, and
what replay detection still needs stays.

Every product sign-in leaves a grant, an ID token and an access and refresh token, and every
refresh (hourly, while a product is in use) another pair; nothing deleted them, so the tables only
grew. Driven through the HTTP endpoints, as a product signs a person in and refreshes.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, Grant, IDToken, RefreshToken

from orgwarden import jobs
from orgwarden.audit.models import AuditEvent
from orgwarden.oidc.models import ExchangedCode, SignInTime
from orgwarden.oidc.services import code_hash
from orgwarden.oidc.tests.test_replay import EVENT, code_for, exchange, later, refresh, userinfo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def person(manage, grant):
    account = manage()
    grant(account)
    return account


def prune(at) -> str:
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("oidc", "prune", stdout=out)
    return out.getvalue()


def test_prune_deletes_what_nobody_can_use_and_keeps_what_replay_detection_needs(product, person):
    start = timezone.now()
    unused_code = code_for(product, person)  # a product that never came back for its code
    first = exchange(product, code_for(product, person)).json()
    with later():
        rotated = refresh(product, first["refresh_token"]).json()  # the first refresh token is revoked
    assert userinfo(rotated["access_token"]) == 200
    # Rotation revoked the first refresh token and deleted its access token.
    assert Grant.objects.count() == 1 and RefreshToken.objects.count() == 2
    assert AccessToken.objects.count() == 1

    # A day on: the unused code is gone; the revoked refresh token stays (a replay of it must still
    # be recognised), and so does the live pair, whose refresh token outlives its access token.
    said = prune(start + timedelta(days=1))
    assert "1 grants" in said and "deleted" in said
    assert not Grant.objects.exists()
    assert RefreshToken.objects.count() == 2 and AccessToken.objects.count() == 1
    # The unused code's sign-in time went with its grant; the family's stays for its refreshes.
    assert list(SignInTime.objects.values_list("token_family", flat=True)) == [
        RefreshToken.objects.values_list("token_family", flat=True).first()
    ]
    with time_machine.travel(start + timedelta(days=1, minutes=1)):
        assert refresh(product, first["refresh_token"]).status_code == 400  # the replay …
    assert AuditEvent.objects.filter(action=EVENT).count() == 1  # … is recognised, the family revoked
    assert exchange(product, unused_code).status_code == 400

    # A refresh token's life (30 days) on: nothing of this sign-in is usable, and nothing is left.
    prune(start + timedelta(days=32))
    assert not RefreshToken.objects.exists() and not AccessToken.objects.exists()
    assert not IDToken.objects.exists() and not ExchangedCode.objects.exists()
    assert not SignInTime.objects.exists()


def test_a_product_in_use_keeps_its_tokens(product, person):
    """Its refresh token outlives the hour of its access token: the access token and the refresh
    token stay, however many prunes run, while the refresh token is within its life."""
    start = timezone.now()
    tokens = exchange(product, code_for(product, person)).json()
    with time_machine.travel(start + timedelta(days=10)):
        tokens = refresh(product, tokens["refresh_token"]).json()
    prune(start + timedelta(days=12))  # the access token expired two days ago; its refresh token lives
    with time_machine.travel(start + timedelta(days=12, minutes=1)):
        again = refresh(product, tokens["refresh_token"])
        assert again.status_code == 200, again.content
        assert userinfo(again.json()["access_token"]) == 200
    assert SignInTime.objects.filter(token_family__isnull=False).count() == 1
    assert ("oidc", "prune") in jobs.DAILY_COMMANDS


def test_prune_works_in_batches(product, person, monkeypatch):
    """A first prune may meet months of rows: it deletes them a batch at a time, each committed on
    its own, never all in one statement that holds the table (on SQLite, the one writer)."""
    from orgwarden.oidc import services

    start = timezone.now()
    for _ in range(5):
        code_for(product, person)  # five codes nobody exchanges
    monkeypatch.setattr(services, "PRUNE_BATCH", 2)
    statement = "DELETE FROM " + connection.ops.quote_name(Grant._meta.db_table)  # noqa: S608 — a test's match
    with CaptureQueriesContext(connection) as queries:
        assert "5 grants" in prune(start + timedelta(days=1))
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(statement)]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert not Grant.objects.exists()


def test_a_code_replayed_after_a_refresh_tokens_life_still_revokes_the_family_it_began(
    product, person, default_policy
):
    """A product that refreshes keeps its token family alive past a refresh token's life (30 days)
    after the code's exchange: each rotation starts a new one. The exchanged code's record stays as
    long as a refresh token of the family does, so a replay of the code still revokes the family
    (RFC 6749 §4.1.2). Pruned 30 days after the exchange, as before, the replay was refused but the
    family it began kept working."""
    default_policy.absolute_session_minutes = 90 * 24 * 60  # sessions may last 90 days
    default_policy.save(update_fields=["absolute_session_minutes"])
    start = timezone.now()
    browser = Client()  # the person's orgwarden session, in use now and then
    browser.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    code = code_for(product, person)
    tokens = exchange(product, code).json()
    with time_machine.travel(start + timedelta(days=20)):
        assert browser.get("/account/").status_code == 200
        tokens = refresh(product, tokens["refresh_token"]).json()

    prune(start + timedelta(days=31))  # a refresh token's life after the exchange
    with time_machine.travel(start + timedelta(days=31, minutes=1)):
        assert exchange(product, code).status_code == 400  # the replay …
        assert refresh(product, tokens["refresh_token"]).status_code == 400  # … revoked the family
    event = AuditEvent.objects.get(action=EVENT)
    assert event.details["replayed"] == "authorization_code"
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()

    # The family's refresh tokens go a refresh token's life after their revocation; its record too.
    assert ExchangedCode.objects.count() == 1
    said = prune(start + timedelta(days=62))
    assert not RefreshToken.objects.exists() and not ExchangedCode.objects.exists()
    assert "1 exchanged codes" in said


def test_a_live_family_keeps_its_code_record_while_an_ended_one_loses_it(product, person):
    """Two sign-ins a refresh token's life ago: the one whose product still refreshes keeps the
    record of its code; the one whose refresh tokens are all gone does not."""
    start = timezone.now()
    browser = Client()
    browser.force_login(person, backend="orgwarden.accounts.backends.AccountBackend")
    kept, dropped = code_for(product, person), code_for(product, person)
    tokens = exchange(product, kept).json()
    exchange(product, dropped)
    with time_machine.travel(start + timedelta(days=20)):
        assert browser.get("/account/").status_code == 200
        refresh(product, tokens["refresh_token"])
    prune(start + timedelta(days=31))  # the dropped family's unused refresh token goes
    assert list(ExchangedCode.objects.values_list("code_hash", flat=True)) == [code_hash(kept)]
