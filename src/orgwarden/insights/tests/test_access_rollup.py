"""Who has access to which site (``SiteUser``, its per-site ``SiteUserCount``, ``AccessUser``) stays
exact through every path that changes it — the orgs services, the insights bulk action, SCIM, and
raw writes — with no clock moved: the charts that read it change at the next read, and agree with
the live computation (``tests/reference.py``). And the triggers behind it are there after
``migrate``, and put back (with every org's access rollups rebuilt) when a migration dropped one.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.insights import access_rollup, apps, rollups, selectors, services, triggers
from orgwarden.insights.models import AccessChange, AccessUser, RollupState, SiteUser, SiteUserCount
from orgwarden.insights.tests import reference
from orgwarden.orgs.models import Activity, Group, GroupMember, OrgUser, ProductSite
from orgwarden.orgs.services import access as s
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(org_admin, other_org_admin):
    """Two sites; "everyone" has both, "devs" has jira; people in one, both or no group, managed and
    external, one deactivated; activity on both sites; another org's grant of one of the people."""
    org, admin = org_admin.org, org_admin.account
    jira = s.site_add(org=org, actor=admin, product="jira-software", name="Jira", url="https://jira.example")
    wiki = s.site_add(org=org, actor=admin, product="confluence", name="Wiki", url="https://wiki.example")
    everyone = s.group_create(org=org, actor=admin, name="Everyone")
    devs = s.group_create(org=org, actor=admin, name="Devs")
    for site in (jira, wiki):
        s.access_grant(org=org, actor=admin, site_id=site.site_id, group_id=everyone.group_id, role="user")
    s.access_grant(org=org, actor=admin, site_id=jira.site_id, group_id=devs.group_id, role="user")
    people = {}
    for name, managed, groups in [
        ("ann", True, [everyone, devs]),
        ("bob", True, [everyone]),
        ("cid", True, [devs]),
        ("dee", False, [everyone]),  # external
        ("eve", True, []),  # no access
        ("fay", True, [everyone]),  # deactivated below
    ]:
        account = AccountFactory(email=f"{name}@{'acme' if managed else 'partner'}.example")
        if managed:
            account_claim(org=org, account=account, domain=None, actor=Actor.system())
        else:
            OrgUser.objects.create(org=org, account=account, email=account.email)
        for group in groups:
            s.group_members_add(
                org=org, actor=admin, group_id=group.group_id, account_ids=[account.account_id]
            )
        people[name] = account
    Account.objects.filter(pk=people["fay"].pk).update(status=Account.Status.DEACTIVATED)
    for name, site, days_ago in [("ann", jira, 1), ("ann", wiki, 40), ("bob", wiki, 2), ("cid", jira, 45)]:
        day = TODAY - timedelta(days=days_ago)
        Activity.objects.create(org=org, site=site, account=people[name], day=day, signins=1, last_at=NOW)
    other = other_org_admin.org
    other_site = s.site_add(
        org=other, actor=other_org_admin.account, product="jira-software", name="X", url="https://x.example"
    )
    other_group = s.group_create(org=other, actor=other_org_admin.account, name="Theirs")
    s.access_grant(
        org=other,
        actor=other_org_admin.account,
        site_id=other_site.site_id,
        group_id=other_group.group_id,
        role="user",
    )
    OrgUser.objects.create(org=other, account=people["eve"], email=people["eve"].email)
    GroupMember.objects.create(group=other_group, account=people["eve"])
    return org, admin, {"jira": jira, "wiki": wiki}, {"everyone": everyone, "devs": devs}, people


def charts(org) -> tuple:
    """What the two access charts show, with and without deactivated accounts."""
    return tuple(
        (
            [
                (site.pk, total, active, inactive)
                for site, total, active, inactive in selectors.site_activity(**kw)
            ],
            [(u.account_id, u.last_active_day) for u in selectors.inactive_users(days=30, **kw)],
        )
        for kw in ({"org": org}, {"org": org, "include_deactivated": True})
    )


def assert_exact(org) -> None:
    """The charts and the rollup rows equal the live computation; the recorded changes are consumed."""
    for include in (False, True):
        kw = {"org": org, "include_deactivated": include}
        for days in (7, 30):
            mine = [(st.pk, t, a, i) for st, t, a, i in selectors.site_activity(days=days, **kw)]
            assert mine == [(st.pk, t, a, i) for st, t, a, i in reference.site_activity(days=days, **kw)]
        for days in (30, 90):
            mine = [
                (u.account_id, u.last_active_day, u.status) for u in selectors.inactive_users(days=days, **kw)
            ]
            live = [
                (u.account_id, u.last_active_day, u.status) for u in reference.inactive_users(days=days, **kw)
            ]
            assert mine == live
    expected_sites = {
        (site.pk, pk)
        for site in ProductSite.objects.filter(org=org)
        for pk in reference._with_access(org, True, site).values_list("pk", flat=True)
    }
    assert set(SiteUser.objects.filter(org=org).values_list("site", "account")) == expected_sites
    assert counts(org) == dict(Counter(SiteUser.objects.filter(org=org).values_list("site", "last_day")))
    assert set(AccessUser.objects.filter(org=org).values_list("account", flat=True)) == set(
        reference._with_access(org, True).values_list("pk", flat=True)
    )
    assert not AccessChange.objects.filter(org_id=org.pk).exists()


def counts(org) -> dict[tuple, int]:
    """(site pk, last day) -> its ``SiteUserCount`` (those counted at zero left out, like those
    without a row)."""
    rows = SiteUserCount.objects.filter(org=org).values_list("site", "last_day", "users")
    found: Counter = Counter()
    for site, day, n in rows:
        found[(site, day)] += n
    return {key: n for key, n in found.items() if n}


def _remove_from_inactive_list(org, admin, sites, groups, people):
    services.inactive_access_remove(org=org, actor=admin, account_ids=[people["cid"].account_id])


def _account_deleted(org, admin, sites, groups, people):
    people["bob"].delete()


CHANGES = {
    "member added": lambda org, admin, sites, groups, people: s.group_members_add(
        org=org, actor=admin, group_id=groups["devs"].group_id, account_ids=[people["eve"].account_id]
    ),
    "member removed": lambda org, admin, sites, groups, people: s.group_member_remove(
        org=org, actor=admin, group_id=groups["everyone"].group_id, account_id=people["bob"].account_id
    ),
    "access granted": lambda org, admin, sites, groups, people: s.access_grant(
        org=org, actor=admin, site_id=sites["wiki"].site_id, group_id=groups["devs"].group_id, role="admin"
    ),
    "access revoked": lambda org, admin, sites, groups, people: s.access_revoke(
        org=org, actor=admin, site_id=sites["jira"].site_id, group_id=groups["devs"].group_id
    ),
    "group deleted": lambda org, admin, sites, groups, people: s.group_delete(
        org=org, actor=admin, group_id=groups["everyone"].group_id
    ),
    "site removed": lambda org, admin, sites, groups, people: s.site_remove(
        org=org, actor=admin, site_id=sites["wiki"].site_id
    ),
    "external user removed": lambda org, admin, sites, groups, people: s.user_remove(
        org=org, actor=admin, account_id=people["dee"].account_id
    ),
    "access removed from the inactive list": _remove_from_inactive_list,
    "account deleted": _account_deleted,
    "raw: memberships bulk-created": lambda org, admin, sites, groups, people: (
        GroupMember.objects.bulk_create(
            [GroupMember(group=groups["everyone"], account=people[name]) for name in ("cid", "eve")]
        )
    ),
    "raw: memberships deleted": lambda org, admin, sites, groups, people: GroupMember.objects.filter(
        group=groups["devs"]
    ).delete(),
    "raw: org user deleted, memberships kept": lambda org, admin, sites, groups, people: (
        OrgUser.objects.filter(org=org, account=people["ann"]).delete()
    ),
    "raw: membership moved to another group": lambda org, admin, sites, groups, people: (
        GroupMember.objects.filter(group=groups["devs"], account=people["cid"]).update(
            group=groups["everyone"]
        )
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_of_access_shows_at_the_next_read(world, clock, change):
    org, admin, sites, groups, people = world
    assert_exact(org)
    before = charts(org)
    CHANGES[change](org, admin, sites, groups, people)
    assert AccessChange.objects.filter(org_id=org.pk).exists()  # recorded by the triggers
    assert charts(org) != before
    if change == "site removed":
        # Its activity went with it: the last active days lag by up to a refresh (insights.rollups).
        clock.shift(rollups.STALE + timedelta(seconds=1))
    assert_exact(org)


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_domain_charts_show_every_change_of_access_at_their_first_read(world, clock, change):
    """The domain and managed vs external charts read ``AccessUser`` too: each brings the rollup up
    to date itself when it is the first read after a change."""
    org, admin, sites, groups, people = world
    assert_exact(org)
    CHANGES[change](org, admin, sites, groups, people)
    for include in (False, True):
        kw = {"org": org, "include_deactivated": include}
        assert selectors.domains_with_access(**kw) == reference.domains_with_access(**kw)
        assert selectors.managed_vs_external(**kw) == reference.managed_vs_external(**kw)
    if change == "site removed":  # its activity went with it: last active days lag by a refresh
        clock.shift(rollups.STALE + timedelta(seconds=1))
    assert_exact(org)


def test_deactivation_shows_at_once_without_a_rebuild(world):
    org, _admin, _sites, _groups, people = world
    assert_exact(org)
    before = charts(org)
    Account.objects.filter(pk=people["ann"].pk).update(status=Account.Status.DEACTIVATED)
    assert not AccessChange.objects.filter(org_id=org.pk).exists()  # not an access row
    after = charts(org)
    assert after[0] != before[0] and after[1] == before[1]  # only the default view changes
    assert_exact(org)


def test_another_orgs_changes_leave_this_org_alone(world, other_org_admin):
    org, *_ = world
    assert_exact(org)
    state = RollupState.objects.get(org=org)
    GroupMember.objects.filter(group__org=other_org_admin.org).delete()
    assert not AccessChange.objects.filter(org_id=org.pk).exists()
    assert access_rollup.current(org=org, state=state).access_built


def test_scim_membership_changes_show_at_the_next_read(org, org_admin, clock):
    from orgwarden.billing.tests.factories import SubscriptionFactory
    from orgwarden.scim import services as scim
    from orgwarden.scim.tests.conftest import patch_body, user_body, verified_domain
    from orgwarden.sso import services as sso

    verified_domain(org, "example.com")
    SubscriptionFactory(org=org)
    directory = sso.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta").directory
    ada = scim.scim_user_create(directory=directory, data=user_body("ada@example.com"))
    bea = scim.scim_user_create(directory=directory, data=user_body("bea@example.com"))
    team = scim.scim_group_create(
        directory=directory, data={"displayName": "Engineering", "members": [{"value": ada.scim_id}]}
    )
    site = s.site_add(
        org=org, actor=org_admin.account, product="confluence", name="W", url="https://w.example"
    )
    s.access_grant(
        org=org, actor=org_admin.account, site_id=site.site_id, group_id=team.group.group_id, role="user"
    )

    def users_with_access() -> int:
        return next(total for st, total, _a, _i in selectors.site_activity(org=org) if st.pk == site.pk)

    assert users_with_access() == 1
    assert_exact(org)
    scim.scim_group_patch(
        directory=directory,
        scim_id=team.scim_id,
        body=patch_body({"op": "add", "path": "members", "value": [{"value": bea.scim_id}]}),
    )
    assert users_with_access() == 2
    assert_exact(org)
    scim.scim_user_delete(directory=directory, scim_id=bea.scim_id)  # deactivated: counted out live
    assert users_with_access() == 1
    assert_exact(org)
    scim.scim_group_delete(directory=directory, scim_id=team.scim_id)
    assert users_with_access() == 0
    assert_exact(org)


def test_incremental_upkeep_ends_where_a_build_from_nothing_starts(world, clock):
    org, admin, sites, groups, people = world
    assert_exact(org)
    for change in (
        "member added",
        "access granted",
        "raw: org user deleted, memberships kept",
        "site removed",
    ):
        CHANGES[change](org, admin, sites, groups, people)
    clock.shift(rollups.STALE + timedelta(seconds=1))  # the site's activity went with it
    assert_exact(org)
    before = charts(org)
    Activity.objects.create(org=org, site=sites["jira"], account=people["eve"], day=TODAY, last_at=NOW)
    Activity.objects.create(org=org, site=sites["jira"], account=people["cid"], day=TODAY, last_at=NOW)
    clock.shift(rollups.STALE + timedelta(seconds=1))
    assert charts(org) != before
    assert_exact(org)  # the refresh copied eve's first and cid's moved last day

    def rows():
        return (
            sorted(SiteUser.objects.filter(org=org).values_list("site", "account", "last_day")),
            sorted(AccessUser.objects.filter(org=org).values_list("account", "last_day")),
            counts(org),
        )

    kept = rows()
    SiteUser.objects.filter(org=org).delete()
    AccessUser.objects.filter(org=org).delete()
    RollupState.objects.filter(org=org).update(access_built=False)
    access_rollup.current(org=org, state=RollupState.objects.get(org=org))
    assert rows() == kept


def test_the_site_chart_reads_each_sites_counts_not_its_rows(world):
    """Users with access per site come from ``SiteUserCount``: counting a site's ``SiteUser`` rows at
    every view read 50,000 index entries per site of a big org (1,000,000 for 20 sites), and on
    PostgreSQL a heap row for each of them the visibility map did not vouch for."""
    org, _admin, sites, _groups, _people = world
    assert_exact(org)
    before = {site.pk: (total, active) for site, total, active, _i in selectors.site_activity(org=org)}
    SiteUserCount.objects.filter(site=sites["jira"], last_day=None).update(users=F("users") + 100)
    after = {site.pk: (total, active) for site, total, active, _i in selectors.site_activity(org=org)}
    assert after[sites["jira"].pk] == (before[sites["jira"].pk][0] + 100, before[sites["jira"].pk][1])


@pytest.mark.parametrize(
    ("change", "recounted"), [("member added", False), ("member removed", False), ("account deleted", True)]
)
def test_a_change_of_members_moves_the_counts_by_their_own_rows(world, change, recounted):
    """A targeted pass for a few accounts adds the difference in their rows to each site's count; it
    counts every site again only when an account was deleted (its rows went with it, uncounted)."""
    org, admin, sites, groups, people = world
    assert_exact(org)
    CHANGES[change](org, admin, sites, groups, people)
    with CaptureQueriesContext(connection) as ctx:
        access_rollup.current(org=org, state=RollupState.objects.get(org=org))
    recounts = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith(f"INSERT INTO {SiteUserCount._meta.db_table}") and "GROUP BY" in q["sql"]
    ]
    assert bool(recounts) == recounted, recounts
    assert_exact(org)


def test_triggers_are_installed_by_migrate():
    names = {name for table in triggers.WATCHED for name in triggers.trigger_names(table, connection.vendor)}
    assert len(names) == (3 if connection.vendor == "postgresql" else 9)
    assert names <= triggers.installed()


def test_a_trigger_dropped_by_a_migration_is_put_back_and_every_org_rebuilt(world):
    org, *_ = world
    assert_exact(org)
    table = Group._meta.get_field("memberships").related_model._meta.db_table
    name = triggers.trigger_names(table, connection.vendor)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TRIGGER {name} ON {table}" if connection.vendor == "postgresql" else f"DROP TRIGGER {name}"
        )
    assert name not in triggers.installed()
    apps._install_triggers(sender=None, using="default")  # what post_migrate runs
    assert name in triggers.installed()
    assert not RollupState.objects.get(org=org).access_built
    apps._install_triggers(sender=None, using="default")  # nothing missing: nothing marked
    RollupState.objects.filter(org=org).update(access_built=True)
    apps._install_triggers(sender=None, using="default")
    assert RollupState.objects.get(org=org).access_built


def test_daily_job_drops_the_changes_of_deleted_orgs(world, other_org_admin):
    org, *_ = world
    other_pk = other_org_admin.org.pk
    other_org_admin.org.delete()
    assert AccessChange.objects.filter(org_id=other_pk).exists()  # written while it was deleted
    rollups.refresh_all()
    assert not AccessChange.objects.filter(org_id=other_pk).exists()
    assert not AccessChange.objects.filter(org_id=org.pk).exists()
    assert RollupState.objects.get(org=org).access_built


def test_more_changes_than_are_looked_at_one_by_one_rebuild_everything(world, monkeypatch):
    org, admin, sites, groups, people = world
    assert_exact(org)
    monkeypatch.setattr(access_rollup, "TARGETED", 1)
    before = charts(org)
    for change in ("member removed", "access granted", "raw: org user deleted, memberships kept"):
        CHANGES[change](org, admin, sites, groups, people)
    assert AccessChange.objects.filter(org_id=org.pk).count() > 1
    assert charts(org) != before
    assert_exact(org)
