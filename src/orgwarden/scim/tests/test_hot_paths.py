"""The plain-SQL hot paths (``scim.rows``) answer exactly what the ORM answers, and the statements a
lookup and a create cost are pinned, so a regression fails here rather than in a benchmark."""

from __future__ import annotations

import pytest
from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone

from orgwarden.billing import services as billing
from orgwarden.billing.models import Subscription
from orgwarden.orgs.models import Directory
from orgwarden.policies.selectors import enforcement_paused
from orgwarden.scim import rows, selectors, services
from orgwarden.scim.models import ProvisioningLog, ScimGroupMember, ScimUser
from orgwarden.scim.tests.conftest import ScimClient, user_body

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def people(scim):
    """Users with what a render reads: several emails, phones, enterprise fields, groups, and one
    whose ``active`` the IdP removed."""
    ids = {}
    for name in ("Ada", "alan", "grace", "linus"):
        body = user_body(f"{name}@example.com", title=name.title(), displayName=name.upper())
        body["emails"].append({"value": f"{name}.home@example.com", "type": "home"})
        body["phoneNumbers"] = [{"value": "+44 20 7946 0000", "type": "work"}]
        body[ENTERPRISE] = {"department": "Maths", "employeeNumber": "7"}
        ids[name] = scim.post("/Users", body).json()["id"]
    for group, members in (("Eng", ("Ada", "alan")), ("Ops", ("Ada",))):
        response = scim.post(
            "/Groups", {"displayName": group, "members": [{"value": ids[m]} for m in members]}
        )
        assert response.status_code == 201
    op = {"op": "remove", "path": "active"}
    removed = scim.patch(f"/Users/{ids['linus']}", {"schemas": [], "Operations": [op]})
    assert removed.status_code == 200 and "active" not in removed.json()
    return ids


def _general(directory, filter_text, start, count):
    """The page as the ORM gives it: the general filter path, and Django's own prefetch."""
    page = selectors._page(
        selectors._users(directory),
        selectors.USER_ATTRIBUTES,
        filter_text=filter_text,
        start=start,
        count=count,
    )
    prefetch_related_objects(
        page.items,
        "emails",
        Prefetch("memberships", queryset=ScimGroupMember.objects.select_related("group")),
    )
    return page


def _rendered(page):
    return page.total, page.start, [selectors.render_user(u, "http://x") for u in page.items]


@pytest.mark.parametrize(
    ("filter_text", "start", "count"),
    [
        ('userName eq "ada@example.com"', None, None),
        ('userName eq "ADA@EXAMPLE.COM"', None, None),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "Alan@example.com"', None, None),
        ('userName eq "nobody@example.com"', None, None),
        ('userName eq "linus@example.com"', None, None),
        ('userName eq "grace@example.com"', "2", None),
        ('userName eq "grace@example.com"', "0", "1"),
        ('userName eq "grace@example.com"', None, "0"),
        ('userName eq "grace@example.com"', "1", "500"),
    ],
)
def test_the_user_name_lookup_answers_what_the_general_path_answers(
    directory, people, filter_text, start, count
):
    assert selectors._user_name_eq(selectors._tree(filter_text)) is not None  # it takes the fast path
    fast = selectors.users_page(directory=directory, filter_text=filter_text, start=start, count=count)
    assert _rendered(fast) == _rendered(_general(directory, filter_text, start, count))


@pytest.mark.parametrize(
    "filter_text",
    [None, 'userName sw "a"', 'emails[type eq "home"]', 'userName eq "ada@example.com" or title eq "Grace"'],
)
def test_pages_of_other_filters_load_the_same_relations_as_the_orm(directory, people, filter_text):
    assert selectors._user_name_eq(selectors._tree(filter_text)) is None
    page = selectors.users_page(directory=directory, filter_text=filter_text, start=None, count=None)
    for user in page.items:  # each user's groups in membership order, read without any prefetch
        members = ScimGroupMember.objects.filter(user=user).select_related("group").order_by("pk")
        assert [m["value"] for m in selectors.render_user(user, "http://x").get("groups", [])] == [
            m.group.scim_id for m in members
        ]
    fast, general = _rendered(page), _rendered(_general(directory, filter_text, None, None))
    assert page.items and fast[:2] == general[:2] and len(fast[2]) == len(general[2])
    for mine, theirs in zip(fast[2], general[2], strict=True):
        # Groups are checked above against a plain ordered read: in the full PostgreSQL suite the
        # prefetch reference once gave a user's two groups in the other order (not understood yet).
        mine, theirs = dict(mine), dict(theirs)
        assert sorted(g["value"] for g in mine.pop("groups", [])) == sorted(
            g["value"] for g in theirs.pop("groups", [])
        )
        assert mine == theirs
    ada = next(u for u in page.items if u.user_name == "Ada@example.com") if filter_text is None else None
    if ada is not None:
        assert [g["display"] for g in selectors.render_user(ada, "http://x")["groups"]] == ["Eng", "Ops"]


@pytest.mark.parametrize("value", ["userName eq 12", "userName pr", 'userName ne "a"', "userName eq null"])
def test_other_user_name_comparisons_stay_on_the_general_path(value):
    assert selectors._user_name_eq(selectors._tree(value)) is None


def test_plain_sql_rows_equal_the_orm_instances(scim, directory, people, django_assert_num_queries):
    bare = user_body("bare@example.com")
    del bare["emails"]
    assert scim.post("/Users", bare).status_code == 201  # no email, no group: one row, relations NULL
    for orm in ScimUser.objects.filter(directory=directory):
        [fast] = rows.users_by_name_key(directory, orm.user_name_key)
        for field in ScimUser._meta.concrete_fields:
            assert getattr(fast, field.attname) == getattr(orm, field.attname), field.attname
        with django_assert_num_queries(0):  # attached: read in the same statement
            emails = [(e.pk, e.value, e.type, e.primary) for e in fast.emails.all()]
            groups = [(m.pk, m.group.scim_id, m.group.display_name) for m in fast.memberships.all()]
        assert emails == [(e.pk, e.value, e.type, e.primary) for e in orm.emails.order_by("pk")]
        assert groups == [
            (m.pk, m.group.scim_id, m.group.display_name) for m in orm.memberships.order_by("pk")
        ]
    assert not rows.users_by_name_key(directory, "bare@example.com")[0].emails.all()
    assert ScimUser.objects.get(scim_id=people["linus"]).active is None


@pytest.mark.parametrize("state", ["paid", "lapsed", "none"])
def test_the_key_check_reads_the_pause_state_in_the_same_statement(
    org, directory, scim_key, django_assert_num_queries, state
):
    if state == "lapsed":
        billing.subscription_lapse(org=org, operator=None)
    elif state == "none":
        Subscription.objects.filter(org=org).delete()
    with django_assert_num_queries(1):
        found = selectors.directory_for_key(directory_id=directory.directory_id, key=scim_key)
        paused = enforcement_paused(found.org)
    assert found == directory and found.org == org and found.org.name == org.name
    assert paused == enforcement_paused(Directory.objects.get(pk=directory.pk).org)
    assert (paused is None) == (state == "paid")


def test_without_the_key_check_the_pause_check_still_queries(org, directory, django_assert_num_queries):
    fresh = Directory.objects.select_related("org").get(pk=directory.pk)
    with django_assert_num_queries(1):
        assert enforcement_paused(fresh.org) is None
    billing.subscription_lapse(org=org, operator=None)
    assert "lapsed" in enforcement_paused(fresh.org)  # nothing remembered between calls


def test_a_lookup_costs_three_statements(scim, people, django_assert_num_queries):
    # key + directory + org + subscription; the user with its emails and groups; the log line (which
    # ``orgwarden serve`` writes behind, in one batch per interval — here at once)
    with django_assert_num_queries(3):
        response = scim.get("/Users", 'filter=userName eq "ada@example.com"')
    assert response.status_code == 200 and response.json()["totalResults"] == 1
    assert [g["display"] for g in response.json()["Resources"][0]["groups"]] == ["Eng", "Ops"]


def test_a_scim_request_without_a_session_cookie_loads_no_session(scim, people):
    """The session-limit and session-activity middlewares look for a session key before the user:
    an IdP sends no cookie, so neither touches the session (which would add ``Vary: Cookie``)."""
    response = scim.get("/Users", 'filter=userName eq "ada@example.com"')
    assert response.status_code == 200 and "Cookie" not in response.get("Vary", "")


def test_a_create_stores_what_the_orm_would_and_answers_from_it(scim, directory):
    body = user_body(
        "nina@example.com", displayName="Nina", phoneNumbers=[{"value": "+1 555", "type": "work"}]
    )
    body["emails"].append({"value": "Nina.Home@Example.com", "type": "home"})
    created = scim.post("/Users", body)
    assert created.status_code == 201
    stored = ScimUser.objects.get(scim_id=created.json()["id"])
    assert (
        abs(stored.updated_at - stored.created_at).total_seconds() < 1 and stored.directory_id == directory.pk
    )
    assert stored.phone_numbers == [{"value": "+1 555", "type": "work"}] and stored.active is True
    assert [(e.value, e.type, e.primary) for e in stored.emails.order_by("pk")] == [
        ("nina@example.com", "work", True),
        ("nina.home@example.com", "home", False),
    ]
    # The 201 answers what a later GET reads from the database.
    assert created.json() == scim.get(f"/Users/{stored.scim_id}").json()


def test_a_lookups_fixed_statements_are_prepared(scim, people):
    """The key check, the user by name and a single user's relations go through
    ``orgwarden.db.prepared_cursor``: prepared on PostgreSQL, placeholders rewritten once on SQLite."""
    from django.db import connection

    from orgwarden.db import _sqlite_class
    from orgwarden.scim import rows

    found = scim.get("/Users", 'filter=userName eq "ada@example.com"').json()
    assert found["totalResults"] == 1
    assert scim.get(f"/Users/{found['Resources'][0]['id']}").status_code == 200  # its relations alone
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [row[0] for row in cursor.fetchall()]
        expected = [rows._BY_NAME, rows._RELATIONS.format(ids="%s")]
        for sql in expected:  # as the server saw it: $1, $2 … for the placeholders
            parts = sql.split("%s")
            numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
            assert numbered in prepared
    else:
        assert {rows._BY_NAME, rows._RELATIONS.format(ids="%s")} <= set(_sqlite_class().rewritten)


def test_a_create_costs_at_most_these_statements(scim, people, django_assert_max_num_queries):
    # The key check; the create checks; the account and its event; the claim's row and its event;
    # the SCIM user, its email and its event; the log line: 10. No look-up for an automatic claim
    # (the create claims the account itself) and none of an org user for an account created a
    # statement earlier. The rest are the savepoints of the nested atomic blocks (the request's own
    # transaction, then the SCIM, account and claim services; here the request's transaction is a
    # savepoint inside the test's). Before the plain-SQL paths this was 31, before this trim 21.
    with django_assert_max_num_queries(18):
        response = scim.post("/Users", user_body("zoe@example.com"))
    assert response.status_code == 201 and response.json()["emails"][0]["value"] == "zoe@example.com"


def test_a_create_with_a_taken_user_name_changes_nothing(scim, people):
    from orgwarden.accounts.models import Account
    from orgwarden.audit.models import AuditEvent

    before = (Account.objects.count(), AuditEvent.objects.count(), ScimUser.objects.count())
    response = scim.post("/Users", user_body("ADA@example.com"))
    assert response.status_code == 409 and response.json()["scimType"] == "uniqueness"
    assert (Account.objects.count(), AuditEvent.objects.count(), ScimUser.objects.count()) == before


def _logged(operation: str) -> int:
    return ProvisioningLog.objects.filter(operation=operation).count()


@pytest.mark.django_db(transaction=True)
def test_a_reads_log_line_is_written_behind_and_a_writes_at_once(scim, people, settings):
    """Outside a transaction, as in production, with a flush interval: a lookup writes nothing
    itself; its line (with the time of the request) is written with the batch."""
    from orgwarden.scim.rows import LOG_BEHIND

    settings.USAGE_FLUSH_SECONDS = 3600
    before, lists, creates = timezone.now(), _logged("list"), _logged("create")
    assert scim.get("/Users", 'filter=userName eq "ada@example.com"').status_code == 200
    assert _logged("list") == lists
    assert scim.post("/Users", user_body("zoe@example.com")).status_code == 201
    assert _logged("create") == creates + 1  # a write's line commits with the write
    assert LOG_BEHIND.flush() == 1
    line = ProvisioningLog.objects.filter(operation="list").latest("at")
    assert line.status == 200 and before <= line.at <= timezone.now()


@pytest.mark.django_db(transaction=True)
def test_read_lines_of_a_directory_deleted_before_the_batch_go_not_the_batch(
    scim, directory, settings, org, org_admin
):
    from orgwarden.scim.rows import LOG_BEHIND
    from orgwarden.sso import services as sso_services

    settings.USAGE_FLUSH_SECONDS = 3600
    other = sso_services.idp_add(org=org, actor=org_admin.account, vendor="entra", name="Entra").directory
    key = services.scim_key_generate(org=org, actor=org_admin.account, directory_id=other.directory_id)
    assert scim.get("/Users").status_code == 200
    assert ScimClient(other, key).get("/Users").status_code == 200
    other.delete()
    assert LOG_BEHIND.flush() == 2  # two lines pending, one written
    assert list(ProvisioningLog.objects.values_list("directory_id", "operation")) == [(directory.pk, "list")]
