"""Reads of SCIM provisioning: the key check, resources as SCIM JSON, filtered lists, and the
console's counts, log and unlinked records. Every read is scoped to one directory (the key's) or
one org (the console's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet

from orgwarden.accounts.ids import public_id_lookup, secret_matches
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Directory, Organization
from orgwarden.orgs.selectors.access import KeysetPage
from orgwarden.scim import rows
from orgwarden.scim.exceptions import ScimError
from orgwarden.scim.models import ProvisioningLog, ScimEmail, ScimGroup, ScimGroupMember, ScimKey, ScimUser
from orgwarden.scim.processors.filters import FilterError, parse_filter
from orgwarden.scim.processors.query import Constant, FilterQuery, JsonMulti, Multi, Scalar
from orgwarden.scim.processors.resources import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

MAX_RESULTS = 200
MAX_OFFSET = 2**62
LOG_PAGE = 50


def directory_for_key(*, directory_id: str, key: str) -> Directory | None:
    """The IdP directory ``directory_id`` if ``key`` is its SCIM key, else None (constant-time compare).

    One statement reads the key's hash, the directory, its org and what the org's pause check reads
    (``rows.directory_with_key_hash``), so ``policies.selectors.enforcement_paused(directory.org)``
    asks no further query.
    """
    if not key or "\x00" in key:
        return None
    found = rows.directory_with_key_hash(public_id_lookup(directory_id))
    if found is None or not secret_matches(key, found[1]):
        return None
    return found[0]


# --- resources as SCIM JSON --------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def user_flat(user: ScimUser) -> dict[str, Any]:
    """The flat form (see ``processors.resources``) of a stored user, for PATCH."""
    flat: dict[str, Any] = {
        "username": user.user_name,
        "active": user.active,
        "externalid": user.external_id,
        "displayname": user.display_name,
        "name.givenname": user.given_name,
        "name.familyname": user.family_name,
        "name.formatted": user.formatted_name,
        "title": user.title,
        "department": user.department,
        "organization": user.organization,
        "employeenumber": user.employee_number,
        "timezone": user.timezone,
        "preferredlanguage": user.preferred_language,
        "locale": user.locale,
        "emails": [{"value": e.value, "type": e.type, "primary": e.primary} for e in user.emails.all()],
        "phonenumbers": list(user.phone_numbers),
    }
    return {k: v for k, v in flat.items() if v not in ("", None)}


def group_flat(group: ScimGroup) -> dict[str, Any]:
    members = ScimGroupMember.objects.filter(group=group).values_list("user__scim_id", flat=True)
    return {
        "displayname": group.display_name,
        "externalid": group.external_id,
        "members": [{"value": m} for m in members],
    }


def with_relations(user: ScimUser) -> ScimUser:
    """``user`` with its emails and groups loaded (one statement, none when a service already
    attached them), ready for ``render_user``."""
    rows.relations_load([user])  # only if they are not attached yet
    return user


def render_user(user: ScimUser, base: str) -> dict[str, Any]:
    """A user as SCIM JSON. Load its relations first (``with_relations``, or ``rows.relations_load``
    for a page): otherwise they cost two queries, and each group one more."""
    out: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": user.scim_id}
    if user.external_id:
        out["externalId"] = user.external_id
    out["userName"] = user.user_name
    name = {"givenName": user.given_name, "familyName": user.family_name}
    name = {k: v for k, v in name.items() if v}
    if user.formatted_name:
        name["formatted"] = user.formatted_name
    if name:
        out["name"] = name
    for key, value in (
        ("displayName", user.display_name),
        ("title", user.title),
        ("preferredLanguage", user.preferred_language),
        ("locale", user.locale),
        ("timezone", user.timezone),
    ):
        if value:
            out[key] = value
    if user.active is not None:
        out["active"] = user.active
    emails = [{"value": e.value, "type": e.type or None, "primary": e.primary} for e in user.emails.all()]
    if emails:
        out["emails"] = [{k: v for k, v in e.items() if v is not None} for e in emails]
    if user.phone_numbers:
        out["phoneNumbers"] = user.phone_numbers
    enterprise = {
        k: v
        for k, v in (
            ("department", user.department),
            ("organization", user.organization),
            ("employeeNumber", user.employee_number),
        )
        if v
    }
    if enterprise:
        out["schemas"] = [USER_SCHEMA, ENTERPRISE_SCHEMA]
        out[ENTERPRISE_SCHEMA] = enterprise
    groups = [
        {
            "value": m.group.scim_id,
            "display": m.group.display_name,
            "$ref": f"{base}/Groups/{m.group.scim_id}",
        }
        for m in user.memberships.all()
    ]
    if groups:
        out["groups"] = groups
    out["meta"] = {
        "resourceType": "User",
        "created": _iso(user.created_at),
        "lastModified": _iso(user.updated_at),
        "location": f"{base}/Users/{user.scim_id}",
    }
    return out


def render_group(group: ScimGroup, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": group.scim_id, "displayName": group.display_name}
    if group.external_id:
        out["externalId"] = group.external_id
    members = ScimGroupMember.objects.filter(group=group).values_list("user__scim_id", "user__display_name")
    out["members"] = [
        {"value": sid, "display": name or None, "$ref": f"{base}/Users/{sid}"} for sid, name in members
    ]
    out["members"] = [{k: v for k, v in m.items() if v is not None} for m in out["members"]]
    out["meta"] = {
        "resourceType": "Group",
        "created": _iso(group.created_at),
        "lastModified": _iso(group.updated_at),
        "location": f"{base}/Groups/{group.scim_id}",
    }
    return out


# --- lists --------------------------------------------------------------------------------------------


def _email_owners(q: Q) -> QuerySet:
    return ScimEmail.objects.filter(q).values("user_id")


def _member_owners(q: Q) -> QuerySet:
    return ScimGroupMember.objects.filter(q).values("group_id")


def _group_owners(q: Q) -> QuerySet:
    return ScimGroupMember.objects.filter(q).values("user_id")


USER_ATTRIBUTES = FilterQuery(
    {
        "id": Scalar("scim_id", "exact"),
        "username": Scalar("user_name_key", "lower"),
        "externalid": Scalar("external_id", "exact"),
        "active": Scalar("active", "bool_default_true"),
        "displayname": Scalar("display_name", "ci"),
        "name.givenname": Scalar("given_name", "ci"),
        "name.familyname": Scalar("family_name", "ci"),
        "name.formatted": Scalar("formatted_name", "ci"),
        "title": Scalar("title", "ci"),
        "department": Scalar("department", "ci"),
        "organization": Scalar("organization", "ci"),
        "employeenumber": Scalar("employee_number", "exact"),
        "preferredlanguage": Scalar("preferred_language", "ci"),
        "locale": Scalar("locale", "ci"),
        "timezone": Scalar("timezone", "ci"),
        "meta.created": Scalar("created_at", "datetime"),
        "meta.lastmodified": Scalar("updated_at", "datetime"),
        "meta.resourcetype": Constant("User"),
        "emails": Multi(
            _email_owners,
            {
                "value": Scalar("value", "lower"),
                "type": Scalar("type", "ci"),
                "primary": Scalar("primary", "bool"),
            },
        ),
        "phonenumbers": JsonMulti(
            ScimUser._meta.db_table,
            ScimUser._meta.get_field("phone_numbers").column,
            {"value": "ci", "type": "ci", "primary": "bool"},
        ),
        # A user's groups (readOnly): the memberships, by group id or name.
        "groups": Multi(
            _group_owners,
            {"value": Scalar("group__scim_id", "exact"), "display": Scalar("group__display_name", "ci")},
        ),
    }
)
GROUP_ATTRIBUTES = FilterQuery(
    {
        "id": Scalar("scim_id", "exact"),
        "displayname": Scalar("display_name", "ci"),
        "externalid": Scalar("external_id", "exact"),
        "meta.created": Scalar("created_at", "datetime"),
        "meta.lastmodified": Scalar("updated_at", "datetime"),
        "meta.resourcetype": Constant("Group"),
        "members": Multi(
            _member_owners,
            {"value": Scalar("user__scim_id", "exact"), "display": Scalar("user__display_name", "ci")},
        ),
    }
)


# The root /.search runs one filter over both types: what only one type has is absent on the other.
ROOT_USER_ATTRIBUTES = USER_ATTRIBUTES.alongside(GROUP_ATTRIBUTES)
ROOT_GROUP_ATTRIBUTES = GROUP_ATTRIBUTES.alongside(USER_ATTRIBUTES)


@dataclass
class Page:
    total: int
    start: int
    items: list


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ScimError(f"{name} must be an integer.", status=400, scim_type="invalidValue") from exc


def _window(start: str | None, count: str | None) -> tuple[int, int]:
    """(startIndex, page size): startIndex below 1 is 1, count is capped at ``MAX_RESULTS``."""
    start_index = max(1, _int(start, "startIndex", 1))
    size = min(max(0, _int(count, "count", MAX_RESULTS)), MAX_RESULTS)
    return start_index, size


def _offset(start_index: int) -> int:
    """The SQL OFFSET of ``start_index``: capped far past any table, below the 64-bit integer that
    SQLite and PostgreSQL take (a larger one was a 500); the page is empty either way."""
    return min(start_index - 1, MAX_OFFSET)


def _filtered(query: QuerySet, attributes: FilterQuery, tree: tuple | None) -> QuerySet:
    try:
        return query if tree is None else query.filter(attributes.to_q(tree))
    except FilterError as exc:
        raise ScimError(str(exc), status=400, scim_type="invalidFilter") from exc


def _tree(filter_text: str | None) -> tuple | None:
    if filter_text is None or not filter_text.strip():
        return None
    try:
        return parse_filter(filter_text)
    except FilterError as exc:
        raise ScimError(str(exc), status=400, scim_type="invalidFilter") from exc


def _page(
    query: QuerySet,
    attributes: FilterQuery,
    *,
    filter_text: str | None,
    start: str | None,
    count: str | None,
    tree: tuple | None = None,
) -> Page:
    query = _filtered(query, attributes, tree if tree is not None else _tree(filter_text))
    start_index, size = _window(start, count)
    offset = _offset(start_index)
    items = list(query.order_by("pk")[offset : offset + size]) if size else []
    if 0 < len(items) < size or (not items and size and start_index == 1):
        total = start_index - 1 + len(items)  # the page is the last one: no COUNT needed
    else:
        total = query.count()
    return Page(total=total, start=start_index, items=items)


def _users(directory: Directory) -> QuerySet:
    """The directory's users; a caller that renders them loads their relations (``rows.relations_load``)."""
    return ScimUser.objects.filter(directory=directory)


def _groups(directory: Directory) -> QuerySet:
    return ScimGroup.objects.filter(directory=directory)


def _user_name_eq(tree: tuple | None) -> str | None:
    """The value of a filter that is exactly ``userName eq "<string>"`` (what every IdP asks before it
    creates a user), lower-cased as ``USER_ATTRIBUTES`` compares it; else None."""
    if tree is None or tree[:3] != ("cmp", "username", "eq"):
        return None
    value = tree[3]
    if not isinstance(value, str) or "\x00" in value:
        return None
    return value.lower()


def _user_name_page(directory: Directory, key: str, start: str | None, count: str | None) -> Page:
    """``userName eq`` as one indexed statement: the same page ``_page`` gives for that filter (the
    name is unique in the directory, so every match is on the page and the total is their number)."""
    start_index, size = _window(start, count)
    matches = rows.users_by_name_key(directory, key)
    return Page(
        total=len(matches), start=start_index, items=matches[start_index - 1 : start_index - 1 + size]
    )


def users_page(
    *, directory: Directory, filter_text: str | None, start: str | None, count: str | None
) -> Page:
    """A page of the directory's users matching ``filter_text``, their relations loaded.

    ``userName eq "…"`` (an IdP's lookup before each create) takes a plain-SQL path
    (``_user_name_page``); every other filter becomes SQL through ``processors.query``.
    """
    tree = _tree(filter_text)
    key = _user_name_eq(tree)
    if key is not None:
        page = _user_name_page(directory, key, start, count)
    else:
        page = _page(
            _users(directory), USER_ATTRIBUTES, filter_text=filter_text, start=start, count=count, tree=tree
        )
    rows.relations_load(page.items)
    return page


def groups_page(
    *, directory: Directory, filter_text: str | None, start: str | None, count: str | None
) -> Page:
    return _page(_groups(directory), GROUP_ATTRIBUTES, filter_text=filter_text, start=start, count=count)


def root_page(*, directory: Directory, filter_text: str | None, start: str | None, count: str | None) -> Page:
    """The root ``/.search`` (RFC 7644 §3.4.3): one filter over Users and Groups, one list.

    The order is stable — every matching user (by creation), then every matching group — so
    ``startIndex`` pages through the union as through one table. ``items`` holds ``ScimUser`` and
    ``ScimGroup`` rows. An attribute only one type has is absent on the other (see
    ``processors.query``); one that no type has, or a comparison a type can't make, raises
    ``ScimError`` (400 ``invalidFilter``).
    """
    tree = _tree(filter_text)
    users = _filtered(_users(directory), ROOT_USER_ATTRIBUTES, tree)
    groups = _filtered(_groups(directory), ROOT_GROUP_ATTRIBUTES, tree)
    start_index, size = _window(start, count)
    user_total, group_total = users.count(), groups.count()
    offset = _offset(start_index)
    items: list = list(users.order_by("pk")[offset : offset + size]) if size and offset < user_total else []
    if len(items) < size:
        group_offset = max(0, offset - user_total)
        items += list(groups.order_by("pk")[group_offset : group_offset + size - len(items)])
    rows.relations_load([item for item in items if isinstance(item, ScimUser)])
    return Page(total=user_total + group_total, start=start_index, items=items)


def user_get(*, directory: Directory, scim_id: str) -> ScimUser | None:
    user = _users(directory).filter(scim_id=public_id_lookup(scim_id)).first()
    if user is not None:
        rows.relations_load([user])
    return user


def group_get(*, directory: Directory, scim_id: str) -> ScimGroup | None:
    return ScimGroup.objects.filter(directory=directory, scim_id=public_id_lookup(scim_id)).first()


def provisioning_record(*, org: Organization, account) -> ScimUser | None:
    """The SCIM record of ``org``'s directories that provisions ``account`` (at most one: a second
    record is refused a link), with its directory; ``None`` when no IdP provisions it by SCIM."""
    return ScimUser.objects.filter(account=account, directory__org=org).select_related("directory").first()


def email_provisioned_refusal(org: Organization, account) -> str | None:
    """``orgs.hooks.email_provisioned_by``: an account a SCIM record provisions has the email that
    record sends; an admin's change would be undone (and the person signed out again) by its next
    update."""
    record = provisioning_record(org=org, account=account)
    if record is None:
        return None
    return (
        f"{record.directory.name} provisions this account by SCIM: change the email there (its "
        "userName or primary email). A change made here would be undone at its next update."
    )


# --- console ------------------------------------------------------------------------------------------


def idp_directory(*, org: Organization, directory_id: str) -> Directory:
    """``org``'s IdP directory; ``NotFound`` for another org's or the local one."""
    directory = Directory.objects.filter(
        org=org, directory_id=public_id_lookup(directory_id), kind=Directory.Kind.IDP
    ).first()
    if directory is None:
        raise NotFound()
    return directory


@dataclass
class Summary:
    has_key: bool
    key_prefix: str
    users: int
    active_users: int
    groups: int
    clashes: int
    unlinked: int
    last_sync_at: datetime | None


def summary(*, directory: Directory) -> Summary:
    key = ScimKey.objects.filter(directory=directory).first()
    users = ScimUser.objects.filter(directory=directory)
    last = (
        ProvisioningLog.objects.filter(directory=directory, status__lt=300)
        .exclude(operation__in=("read", "list", "config"))
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    return Summary(
        has_key=key is not None,
        key_prefix=key.prefix if key else "",
        users=users.count(),
        active_users=users.exclude(active=False).count(),
        groups=ScimGroup.objects.filter(directory=directory).count(),
        clashes=ScimGroup.objects.filter(directory=directory, clash_group__isnull=False).count(),
        unlinked=users.filter(Q(account__isnull=True) | ~Q(link_error="")).count(),
        last_sync_at=last,
    )


def log_page(
    *, directory: Directory, operation: str = "", result: str = "", page: int = 1
) -> tuple[list, bool]:
    """The provisioning log, newest first, filtered by operation and result (``ok``/``error``)."""
    query = ProvisioningLog.objects.filter(directory=directory)
    if operation:
        query = query.filter(operation=operation)
    if result == "ok":
        query = query.filter(status__lt=400)
    elif result == "error":
        query = query.filter(status__gte=400)
    # Past the last page is an empty page; a page number from the URL must not overflow the
    # database's 64-bit OFFSET (a 500 on SQLite and PostgreSQL).
    offset = min((max(page, 1) - 1) * LOG_PAGE, MAX_OFFSET)
    rows = list(query.order_by("-at", "-pk")[offset : offset + LOG_PAGE + 1])
    return rows[:LOG_PAGE], len(rows) > LOG_PAGE


UNLINKED_PAGE = 50


def unlinked_users(
    *, directory: Directory, after: str | None = None, size: int = UNLINKED_PAGE
) -> KeysetPage[ScimUser]:
    """The directory's records without a working link to an account, by userName, a page at a time
    (``after``: the ``user_name_key`` of the previous page's last). A released domain can unlink
    thousands at once; each must be reachable, not only the first few hundred."""
    rows = (
        ScimUser.objects.filter(directory=directory)
        .filter(Q(account__isnull=True) | ~Q(link_error=""))
        .select_related("account")
        .order_by("user_name_key")
    )
    if after:
        rows = rows.filter(user_name_key__gt=after)
    found = list(rows[: size + 1])
    page = found[:size]
    return KeysetPage(page, page[-1].user_name_key if len(found) > size else None)


def clashing_groups(*, directory: Directory) -> list[ScimGroup]:
    return list(
        ScimGroup.objects.filter(directory=directory, clash_group__isnull=False)
        .select_related("clash_group")
        .order_by("display_name")
    )
