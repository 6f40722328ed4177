"""tokens.user_services: user API tokens — one event per change, hashed, governed by the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.ids import secret_hash
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.policies.services import policy_update
from orgwarden.testing.plans import plan_of
from orgwarden.tokens import selectors
from orgwarden.tokens.exceptions import InvalidKeyRequest, TokenNotFound, TokensNotAllowed
from orgwarden.tokens.introspection import introspect
from orgwarden.tokens.models import UserApiToken
from orgwarden.tokens.processors.presented import parse_presented
from orgwarden.tokens.user_services import (
    max_lifetime_days,
    org_policy_tokens_revoke,
    org_user_token_revoke,
    org_user_tokens_revoke,
    user_token_create,
    user_token_revoke,
)

pytestmark = pytest.mark.django_db

T0 = "2026-03-02T10:00:00Z"


def works(site, value: str) -> bool:
    """Whether a product site hears that the token works (introspection: the only check there is)."""
    return introspect(client_id=site.client_id, client_secret=site.secret, token=value)["active"]


def _policy(org, org_admin, policy, **settings):
    policy_update(org=org, actor=org_admin.account, policy_id=policy.policy_id, settings=settings)


def test_create_shows_the_value_once_and_stores_its_hash(account, one_event):
    with time_machine.travel(T0, tick=False):
        token, value = user_token_create(account=account, label="  Jira   CLI ")
    assert value.startswith("owt_") and len(value) >= 40
    stored = UserApiToken.objects.get()
    assert stored.label == "Jira CLI" and stored.account == account
    assert stored.token_hash == secret_hash(value) and stored.prefix == value[:10]
    assert stored.expires_at == datetime(2027, 3, 2, 10, tzinfo=UTC)  # default 365 days
    event = one_event("account:api_token:created")
    assert event.actor_id == account.account_id
    assert {"type": "api_token", "id": token.token_id, "name": "Jira CLI"} in event.targets
    assert value not in str(event.details)


@pytest.mark.parametrize(("label", "days"), [("", 30), ("  ", 30), ("x" * 101, 30), ("ok", 0), ("ok", 366)])
def test_create_refuses_bad_input_and_leaves_nothing(account, label, days):
    with pytest.raises(InvalidKeyRequest):
        user_token_create(account=account, label=label, expires_in_days=days)
    assert not UserApiToken.objects.exists() and not AuditEvent.objects.exists()


def test_policy_caps_the_lifetime_and_can_forbid_tokens(org, org_admin, manage, default_policy):
    person = manage()
    _policy(org, org_admin, default_policy, api_token_max_days=30)
    assert max_lifetime_days(person) == 30
    with pytest.raises(InvalidKeyRequest):
        user_token_create(account=person, label="t", expires_in_days=31)
    user_token_create(account=person, label="t", expires_in_days=30)
    _policy(org, org_admin, default_policy, api_tokens_allowed=False)
    before = AuditEvent.objects.count()
    with pytest.raises(TokensNotAllowed):
        user_token_create(account=person, label="t2", expires_in_days=1)
    assert UserApiToken.objects.count() == 1 and AuditEvent.objects.count() == before


def test_a_token_stops_working_when_revoked_expired_blocked_or_deactivated(
    org, org_admin, manage, default_policy, site
):
    person = manage()
    with time_machine.travel(T0, tick=False):
        token, value = user_token_create(account=person, label="t", expires_in_days=7)
        assert works(site, value)
        assert UserApiToken.objects.get().last_used_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
        assert not works(site, value + "x")
        assert not works(site, value[4:])
        assert not works(site, "owt_" + "a" * 200)
    with time_machine.travel(datetime(2026, 3, 9, 10, 0, 1, tzinfo=UTC), tick=False):
        assert not works(site, value)  # expired
    with time_machine.travel(T0, tick=False):
        _policy(org, org_admin, default_policy, api_tokens_allowed=False)
        assert not works(site, value)  # blocked
        _policy(org, org_admin, default_policy, api_tokens_allowed=True)
        assert works(site, value)  # revived
        Account.objects.filter(pk=person.pk).update(status=Account.Status.DEACTIVATED)
        assert not works(site, value)
        Account.objects.filter(pk=person.pk).update(status=Account.Status.ACTIVE)
        user_token_revoke(account=person, token_id=token.token_id)
        assert not works(site, value)


def test_revoke_own_token_only(account, one_event):
    token, _ = user_token_create(account=account, label="t")
    other = AccountFactory()
    before = AuditEvent.objects.count()
    with pytest.raises(TokenNotFound):
        user_token_revoke(account=other, token_id=token.token_id)
    assert AuditEvent.objects.count() == before and UserApiToken.objects.get().revoked_at is None
    user_token_revoke(account=account, token_id=token.token_id)
    assert UserApiToken.objects.get().revoked_at is not None
    one_event("account:api_token:revoked")
    with pytest.raises(TokenNotFound):  # twice
        user_token_revoke(account=account, token_id=token.token_id)


def test_admin_revokes_one_of_a_managed_account(org, org_admin, manage, one_event):
    person = manage()
    token, _ = user_token_create(account=person, label="t")
    org_user_token_revoke(org=org, actor=org_admin.account, token_id=token.token_id)
    event = one_event("org:api_token:revoked")
    assert event.org_id == org.org_id and event.actor_id == org_admin.account.account_id
    assert UserApiToken.objects.get().revoked_at is not None


def test_admin_cannot_touch_other_orgs_or_unmanaged_tokens(org, org_admin, manage):
    other = OrgAdminFactory()
    theirs = manage(in_org=other.org)
    unmanaged = AccountFactory()
    t1, _ = user_token_create(account=theirs, label="t")
    t2, _ = user_token_create(account=unmanaged, label="t")
    before = AuditEvent.objects.count()
    for token in (t1, t2):
        with pytest.raises(TokenNotFound):
            org_user_token_revoke(org=org, actor=org_admin.account, token_id=token.token_id)
    assert (
        org_user_tokens_revoke(org=org, actor=org_admin.account, token_ids=[t1.token_id, t2.token_id]) == []
    )
    with pytest.raises(NotFound):  # an admin of another org
        org_user_token_revoke(org=org, actor=other.account, token_id=t1.token_id)
    assert AuditEvent.objects.count() == before
    assert not UserApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_admin_revokes_a_selection_and_a_policys_members(org, org_admin, manage, default_policy):
    a, b, c = manage(), manage(), manage()
    ta, _ = user_token_create(account=a, label="a")
    tb, _ = user_token_create(account=b, label="b")
    user_token_create(account=c, label="c")
    revoked = org_user_tokens_revoke(
        org=org, actor=org_admin.account, token_ids=[ta.token_id, tb.token_id, "nope"]
    )
    assert sorted(t.pk for t in revoked) == sorted([ta.pk, tb.pk])
    assert AuditEvent.objects.filter(action="org:api_token:revoked").count() == 2
    assert org_user_tokens_revoke(org=org, actor=org_admin.account, token_ids=[ta.token_id]) == []
    assert org_policy_tokens_revoke(org=org, actor=org_admin.account, policy_id=default_policy.policy_id) == 1
    assert not UserApiToken.objects.filter(revoked_at__isnull=True).exists()
    with pytest.raises(NotFound):
        org_policy_tokens_revoke(org=org, actor=org_admin.account, policy_id="nope")


def test_admin_list_filters(org, manage, site):
    person = manage()
    with time_machine.travel(T0, tick=False):
        user_token_create(account=person, label="soon", expires_in_days=10)
        _, value = user_token_create(account=person, label="later", expires_in_days=365)
    with time_machine.travel(datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(days=5), tick=False):
        assert works(site, value)
    with time_machine.travel(T0, tick=False):
        assert [t.label for t in selectors.org_user_tokens(org=org)] == ["soon", "later"]
        assert [t.label for t in selectors.org_user_tokens(org=org, expiring=True)] == ["soon"]
        assert selectors.org_user_tokens(org=org, q=person.email[:3].upper())
        assert selectors.org_user_tokens(org=org, q="zzz-nobody") == []
    with time_machine.travel(datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(days=100), tick=False):
        # "soon" expired; "later" last used on day 5: unused for 95 days
        assert [t.label for t in selectors.org_user_tokens(org=org, unused=True)] == ["later"]


def test_admin_list_of_the_whole_org_walks_the_live_tokens_by_expiry(org, manage):
    """Every live token of the org, soonest expiry first, is read along ``user_token_live_expiry``
    and stops at its page: no sort of every managed account's tokens (the org's size on each view).
    The plan is asked with sequential scans and sorts priced out on PostgreSQL, whose planner
    rightly prefers both on a table of three rows: the point is that the index can serve it."""
    for label in ("a", "b", "c"):
        user_token_create(account=manage(), label=label)
    with CaptureQueriesContext(connection) as ctx:
        assert len(selectors.org_user_tokens(org=org)) == 3
    [sql] = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "tokens_userapitoken"')]
    plan = plan_of(sql)
    assert "user_token_live_expiry" in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("owt_abc", None),
        ("mia@acme.test:owt_abc", "mia@acme.test"),
        ("bWlhQGFjbWUudGVzdDpvd3RfYWJj", "mia@acme.test"),  # base64("mia@acme.test:owt_abc")
        ("Basic bWlhQGFjbWUudGVzdDpvd3RfYWJj", "mia@acme.test"),
    ],
)
def test_parse_presented_accepts_the_forms(raw, email):
    presented = parse_presented(raw, prefix="owt_")
    assert presented is not None and presented.token == "owt_abc" and presented.email == email


@pytest.mark.parametrize("raw", ["", "abc", "mia:owk_x", ":owt_abc", "!!!", "x" * 600, "Basic %%%"])
def test_parse_presented_refuses_the_rest(raw):
    assert parse_presented(raw, prefix="owt_") is None
