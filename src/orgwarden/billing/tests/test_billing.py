"""Subscription rules (trial start, warnings, expiry, lapse) and billable counting with policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.billing import selectors, services
from orgwarden.billing.exceptions import NoVerifiedDomain, TrialAlreadyStarted
from orgwarden.billing.models import BillableSnapshot, Subscription
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim
from orgwarden.policies.models import AuthenticationPolicy, PolicyMember

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def verify_a_domain(org):
    Domain.objects.create(org=org, name="acme.example", token="t", status=Domain.Status.VERIFIED)


def events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_trial_needs_a_verified_domain(org, org_admin):
    with pytest.raises(NoVerifiedDomain):
        services.subscription_trial_start(org=org, actor=org_admin.account)
    assert not Subscription.objects.exists() and not events("org:subscription:trial_started")


def test_trial_start_is_audited_once(org, org_admin, other_org_admin):
    verify_a_domain(org)
    with pytest.raises(NotFound):
        services.subscription_trial_start(org=org, actor=other_org_admin.account)
    with time_machine.travel(START, tick=False):
        sub = services.subscription_trial_start(org=org, actor=org_admin.account)
    assert sub.trial_ends_at == START + timedelta(days=30)
    assert sub.status == Subscription.Status.TRIAL
    (event,) = events("org:subscription:trial_started")
    assert event.org_id == org.org_id
    with pytest.raises(TrialAlreadyStarted):
        services.subscription_trial_start(org=org, actor=org_admin.account)
    assert len(events("org:subscription:trial_started")) == 1
    assert selectors.security_enforced(org=org)
    assert selectors.days_left(sub, now=START) == 30
    assert selectors.days_left(sub, now=START + timedelta(seconds=1)) == 30  # its first day
    assert selectors.days_left(sub, now=START + timedelta(days=1)) == 29
    assert selectors.days_left(sub, now=START + timedelta(days=29, hours=1)) == 1  # its last day
    assert selectors.days_left(sub, now=START + timedelta(days=30)) == 0
    assert selectors.days_left(sub, now=START + timedelta(days=31)) == 0


def run_daily(at):
    with time_machine.travel(at, tick=False):
        return services.billing_daily()


def test_warnings_7_and_1_days_before_then_paid(org, org_admin, django_capture_on_commit_callbacks):
    verify_a_domain(org)
    with time_machine.travel(START, tick=False):
        services.subscription_trial_start(org=org, actor=org_admin.account)
    assert run_daily(START + timedelta(days=22)).warned == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert run_daily(START + timedelta(days=23, hours=1)).warned == 1
    assert run_daily(START + timedelta(days=24)).warned == 0  # once
    with django_capture_on_commit_callbacks(execute=True):
        assert run_daily(START + timedelta(days=29, hours=1)).warned == 1
    assert [e.details["days"] for e in events("org:subscription:expiry_warned")] in ([7, 1], [1, 7])
    assert len(mail.outbox) == 2 and "ends in 7 days" in mail.outbox[0].subject
    assert mail.outbox[0].to == [org_admin.account.email]
    summary = run_daily(START + timedelta(days=30, minutes=1))
    assert summary.paid == 1
    sub = Subscription.objects.get()
    assert sub.status == Subscription.Status.PAID and sub.paid_at
    assert len(events("org:subscription:paid")) == 1
    assert run_daily(START + timedelta(days=31)).paid == 0
    assert selectors.security_enforced(org=org)


def test_late_first_run_sends_only_the_nearer_warning(org, org_admin):
    verify_a_domain(org)
    with time_machine.travel(START, tick=False):
        services.subscription_trial_start(org=org, actor=org_admin.account)
    run_daily(START + timedelta(days=29, hours=12))
    assert [e.details["days"] for e in events("org:subscription:expiry_warned")] == [1]


def test_lapses_when_the_operator_requires_payment(
    org, org_admin, settings, django_capture_on_commit_callbacks
):
    settings.BILLING_PAYMENT_REQUIRED = True
    verify_a_domain(org)
    with time_machine.travel(START, tick=False):
        services.subscription_trial_start(org=org, actor=org_admin.account)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_daily(START + timedelta(days=31)).lapsed == 1
    assert Subscription.objects.get().status == Subscription.Status.LAPSED
    assert len(events("org:subscription:lapsed")) == 1
    assert "lapsed" in mail.outbox[-1].subject
    assert not selectors.security_enforced(org=org)


@pytest.fixture
def seeded(org_admin):
    org, admin = org_admin.org, org_admin.account
    jira = s.site_add(org=org, actor=admin, product="jira-software", name="jira", url="https://jira.example")
    status = s.site_add(org=org, actor=admin, product="statuspage", name="st", url="https://st.example")
    users = s.group_create(org=org, actor=admin, name="Jira users")
    s.access_grant(org=org, actor=admin, site_id=jira.site_id, group_id=users.group_id, role="user")
    st = s.group_create(org=org, actor=admin, name="Status")
    s.access_grant(org=org, actor=admin, site_id=status.site_id, group_id=st.group_id, role="admin")

    def person(email, group=users, managed=True, status=Account.Status.ACTIVE):
        account = AccountFactory(email=email, status=status)
        if managed:
            account_claim(org=org, account=account, domain=None, actor=Actor.system())
        else:
            OrgUser.objects.create(org=org, account=account, email=email)
        if group is not None:
            s.group_members_add(
                org=org, actor=admin, group_id=group.group_id, account_ids=[account.account_id]
            )
        return account

    people = {
        "a": person("a@acme.example"),
        "b": person("b@acme.example"),
        "ext": person("ext@other.example", managed=False),
        "gone": person("gone@acme.example", status=Account.Status.DEACTIVATED),
        "status": person("status@acme.example", group=st),
        "none": person("none@acme.example", group=None),
        "contractor": person("contractor@acme.example"),
    }
    default = AuthenticationPolicy.objects.get(org=org, is_default=True)
    contractors = AuthenticationPolicy.objects.create(
        org=org, directory=default.directory, name="Contractors", billable=False
    )
    PolicyMember.objects.create(policy=contractors, account=people["contractor"])
    return org, people, default


def test_billable_counts_and_reasons(seeded):
    org, people, default = seeded
    assert set(selectors.billable_users(org=org)) == {people["a"], people["b"], people["ext"]}
    assert selectors.billable_by_product(org=org) == {"jira-software": 3}
    reasons = {row.account.email: row.reason for row in selectors.not_billable(org=org)}
    assert reasons == {
        "contractor@acme.example": "In a non-billable authentication policy",
        "gone@acme.example": "Deactivated",
        "status@acme.example": "Statuspage only (billed separately)",
        "none@acme.example": "No product access",
    }
    # A non-billable default policy excludes its directory's managed accounts, not external users.
    default.billable = False
    default.save()
    assert set(selectors.billable_users(org=org)) == {people["ext"]}


def test_not_billable_reads_the_same_queries_for_any_number_of_users(seeded):
    """The not-billable list costs the same few queries however many users it shows: it read each
    user's grants with one query per user, and every billable id of the org into Python first."""
    org = seeded[0]
    with CaptureQueriesContext(connection) as few:
        assert len(selectors.not_billable(org=org)) == 4
    for i in range(6):  # six more users with no product access
        account_claim(
            org=org, account=AccountFactory(email=f"idle{i}@acme.example"), domain=None, actor=Actor.system()
        )
    with CaptureQueriesContext(connection) as many:
        reasons = [row.reason for row in selectors.not_billable(org=org)]
    assert reasons.count("No product access") == 7
    # the org's products and grants, the two policy look-ups of the billable set, the pass over the
    # org's users, the page, its policy exclusions, its grants
    assert len(many.captured_queries) == len(few.captured_queries) <= 8
    assert all(len(q["sql"]) < 5000 for q in many.captured_queries)  # no list of every billable id


def test_billable_by_product_is_one_pass_for_any_number_of_products(seeded):
    """Per-product counts read the org's users once, however many products it has, with the rules of
    ``billable_count``: the policy exclusions, and agents only on an agent-billed product.

    They counted every account of the installation, per product (seconds at 50,000 people); then
    the org's users once per product (1.4 s on PostgreSQL, where a conditional count per product in
    one pass ran its EXISTS once per user). One statement now gives each user of the org the set
    of billed groups it is in, counted per set: each set says which products it bills."""
    org, people, _default = seeded
    admin = org.admins.first().account
    for product in ("confluence", "jira-service-management", "trello"):
        site = s.site_add(
            org=org, actor=admin, product=product, name=product, url=f"https://{product}.example"
        )
        group = s.group_create(org=org, actor=admin, name=f"{product} people")
        role = "user" if product != "jira-service-management" else "admin"
        s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=group.group_id, role=role)
        members = [people["a"], people["contractor"]] + ([people["b"]] if product == "trello" else [])
        s.group_members_add(
            org=org, actor=admin, group_id=group.group_id, account_ids=[p.account_id for p in members]
        )
    desk = s.site_add(
        org=org, actor=admin, product="jira-service-management", name="desk2", url="https://d2.example"
    )
    customers = s.group_create(org=org, actor=admin, name="Desk customers")
    s.access_grant(org=org, actor=admin, site_id=desk.site_id, group_id=customers.group_id, role="user")
    s.group_members_add(
        org=org, actor=admin, group_id=customers.group_id, account_ids=[people["b"].account_id]
    )
    with CaptureQueriesContext(connection) as ctx:
        counts = selectors.billable_by_product(org=org)
    assert counts == {"jira-software": 3, "confluence": 1, "trello": 2, "jira-service-management": 1}
    memberships = [q["sql"] for q in ctx.captured_queries if "orgs_groupmember" in q["sql"]]
    assert len(memberships) == 1 and "orgs_orguser ou" in memberships[0], memberships  # one pass
    assert not any(q["sql"].startswith("SELECT COUNT(") for q in ctx.captured_queries)  # no count each
    summary = selectors.billable_summary(org=org)
    assert (summary.count, summary.by_product) == (selectors.billable_count(org=org), counts)
    assert summary.not_billable == selectors.not_billable(org=org)


def test_billable_count_is_the_number_of_billable_users(seeded, other_org_admin):
    """``billable_count`` (written for big orgs: lists read once, exclusions only when a
    non-billable policy can apply) counts exactly ``billable_users``, through every policy rule."""
    org, people, default = seeded

    def count() -> int:
        n = selectors.billable_count(org=org)
        assert n == len(set(selectors.billable_users(org=org)))
        return n

    assert count() == 3  # a, b, ext: the contractor's policy is non-billable
    default.billable = False
    default.save()
    assert count() == 1  # ext: the managed accounts in no policy fall under the default
    contractors = AuthenticationPolicy.objects.get(org=org, name="Contractors")
    contractors.billable = True
    contractors.save()
    assert count() == 2  # ext, and the contractor: its own (billable) policy applies, not the default
    # A non-billable policy of another org, or the non-billable default of its directory, changes
    # nothing here: b stays under this org's default.
    theirs = AuthenticationPolicy.objects.get(org=other_org_admin.org, is_default=True)
    theirs.billable = False
    theirs.save()
    PolicyMember.objects.create(
        policy=AuthenticationPolicy.objects.create(
            org=other_org_admin.org, directory=theirs.directory, name="Theirs", billable=False
        ),
        account=people["b"],
    )
    assert count() == 2
    default.billable = True
    default.save()
    assert count() == 4  # a, b, ext, contractor
    Account.objects.filter(pk=people["a"].pk).update(status=Account.Status.DEACTIVATED)
    assert count() == 3


def test_daily_snapshot_of_the_billable_count(seeded):
    org, _, _ = seeded
    run_daily(START)
    run_daily(START + timedelta(hours=5))  # same day: updated, not doubled
    call_command("billing", "daily")
    snapshot = BillableSnapshot.objects.get(org=org, day=START.date())
    assert snapshot.count == 3
    assert {x.day: x.count for x in selectors.snapshots(org=org, since=START.date())}[START.date()] == 3
