"""Plain SQL for the SCIM hot paths: the key check, the ``userName eq`` lookup, a page's emails and
groups, what a create checks and the SCIM rows it inserts, and the provisioning-log line.

An IdP calls these on every request, and here Django spends about a millisecond building each ORM
query (filters, joins, compiling) against well under 0.1 ms to run it. These statements have a fixed
shape, so they are written once, from the models' ``_meta`` (a renamed table or column follows), and
run with a cursor. Rows become model instances through ``Rows``, which applies the database's own
converters (SQLite hands back text for a datetime and 0/1 for a boolean) — the instances are the
ones the ORM would have built, so everything downstream (rendering, services, PATCH) is unchanged.

What a filter can express stays with the ORM (``processors.query``): only the fixed statements live
here, and ``selectors`` decides when one answers for the general path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet

from orgwarden.accounts.models import Account
from orgwarden.db import prepared_cursor
from orgwarden.orgs.models import Directory, Domain, Organization
from orgwarden.policies import hooks
from orgwarden.scim.models import ProvisioningLog, ScimEmail, ScimGroup, ScimGroupMember, ScimKey, ScimUser
from orgwarden.writebehind import WriteBehind


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model: type[Model]) -> str:
    return _q(model._meta.db_table)


def _column(model: type[Model], name: str) -> str:
    return _q(model._meta.get_field(name).column)


class Rows:
    """``model``'s ``fields`` (attnames; all concrete fields by default) as selected columns, and a
    row's slice of them as an instance (``Model.from_db``; fields left out are deferred)."""

    def __init__(self, model: type[Model], fields: Iterable[str] | None = None) -> None:
        wanted = None if fields is None else set(fields)
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if wanted is None or f.attname in wanted]
        self.attnames = [f.attname for f in self.fields]
        self.key = tuple(self.attnames)

    def __len__(self) -> int:
        return len(self.fields)

    def columns(self, alias: str) -> str:
        return ", ".join(f"{alias}.{_q(f.column)}" for f in self.fields)

    def build(self, db: BaseDatabaseWrapper, values: Sequence[Any]) -> Model:
        """An instance from ``values`` (in ``self.attnames`` order) read from ``db``."""
        values = list(values)
        for index, converters, column in _converters(self.model, self.key, db.vendor):
            value = values[index]
            for convert in converters:
                value = convert(value, column, db)
            values[index] = value
        return self.model.from_db(db.alias, self.attnames, values)

    def build_named(self, db: BaseDatabaseWrapper, values: dict[str, Any]) -> Model:
        """``build`` from ``{attname: value}``."""
        return self.build(db, [values[name] for name in self.attnames])


@cache
def _converters(model: type[Model], attnames: tuple[str, ...], vendor: str) -> list[tuple[int, list, Any]]:
    """What the ORM's compiler would apply to each column read back (``SQLCompiler.get_converters``).

    Cached per database vendor; each converter is called with the connection that read the row."""
    out = []
    for index, attname in enumerate(attnames):
        field = next(f for f in model._meta.concrete_fields if f.attname == attname)
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            out.append((index, converters, column))
    return out


# --- the key, its directory, the org and what its pause check reads: one statement ------------------

_DIRECTORY = Rows(Directory)
_ORG = Rows(Organization)


@cache
def _key_statement(relations: tuple[str, ...]) -> tuple[str, list[tuple[str, Rows]]]:
    """The key check's SQL, and ``(relation, Rows)`` for each relation joined after the org."""
    joined = []
    select = [f"k.{_column(ScimKey, 'key_hash')}", _DIRECTORY.columns("d"), _ORG.columns("o")]
    joins = []
    for number, name in enumerate(relations):
        relation = Organization._meta.get_field(name)  # a reverse one-to-one (``Subscription.org``)
        rows = Rows(relation.related_model)
        alias = f"r{number}"
        select.append(rows.columns(alias))
        joins.append(
            f"LEFT JOIN {_table(relation.related_model)} {alias} "
            f"ON {alias}.{_q(relation.field.column)} = o.{_q(relation.field.target_field.column)}"
        )
        joined.append((name, rows))
    sql = (
        f"SELECT {', '.join(select)} FROM {_table(ScimKey)} k "  # noqa: S608 — names from _meta
        f"JOIN {_table(Directory)} d ON d.{_column(Directory, 'id')} = k.{_column(ScimKey, 'directory')} "
        f"JOIN {_table(Organization)} o ON o.{_column(Organization, 'id')} = d.{_column(Directory, 'org')} "
        f"{' '.join(joins)} WHERE d.{_column(Directory, 'directory_id')} = %s"
    )
    return sql, joined


def directory_with_key_hash(directory_id: str) -> tuple[Directory, str] | None:
    """The directory ``directory_id`` with its org (and the org's pause-check relations attached,
    see ``policies.hooks``), and its SCIM key's hash; None without a key."""
    sql, joined = _key_statement(tuple(hooks.enforcement_pause_relations))
    db = connections[DEFAULT_DB_ALIAS]
    with prepared_cursor(db.alias) as cursor:
        cursor.execute(sql, [directory_id])
        row = cursor.fetchone()
    if row is None:
        return None
    start = 1
    directory = _DIRECTORY.build(db, row[start : start + len(_DIRECTORY)])
    start += len(_DIRECTORY)
    org = _ORG.build(db, row[start : start + len(_ORG)])
    start += len(_ORG)
    attached = {}
    for name, rows in joined:
        values = row[start : start + len(rows)]
        start += len(rows)
        attached[name] = None if values[0] is None else rows.build(db, values)
    hooks.pause_relations_attach(org, attached)
    Directory.org.field.set_cached_value(directory, org)
    return directory, row[0]


# --- users --------------------------------------------------------------------------------------------


# --- a page's emails and groups: one statement --------------------------------------------------------

_EMAIL = Rows(ScimEmail)
_MEMBER = Rows(ScimGroupMember)
_GROUP = Rows(ScimGroup, ("id", "scim_id", "display_name"))
# One column list for both kinds, each column one type:
#   0, e.id, e.user_id, e.value,    e.type,         e.primary, NULL
#   1, m.id, m.user_id, g.scim_id,  g.display_name, NULL,      m.group_id
_E = {name: f"e.{_column(ScimEmail, name)}" for name in ("id", "user", "value", "type", "primary")}
_M = {name: f"m.{_column(ScimGroupMember, name)}" for name in ("id", "user", "group")}
_G = {name: f"g.{_column(ScimGroup, name)}" for name in ("id", "scim_id", "display_name")}
_RELATION_COLUMNS = ("kind", "id", "owner", "text", "other", "flag", "group_pk")
_RELATIONS_OF = (
    f"SELECT 0 AS kind, {_E['id']} AS id, {_E['user']} AS owner, {_E['value']} AS text, "  # noqa: S608
    f"{_E['type']} AS other, {_E['primary']} AS flag, NULL AS group_pk "
    f"FROM {_table(ScimEmail)} e WHERE {_E['user']} IN ({{ids}}) "
    f"UNION ALL SELECT 1, {_M['id']}, {_M['user']}, {_G['scim_id']}, {_G['display_name']}, NULL, "
    f"{_M['group']} "
    f"FROM {_table(ScimGroupMember)} m JOIN {_table(ScimGroup)} g ON {_G['id']} = {_M['group']} "
    f"WHERE {_M['user']} IN ({{ids}})"
)
_RELATIONS = _RELATIONS_OF + " ORDER BY 1, 2"
EMAILS = ScimUser._meta.get_field("emails").get_accessor_name()
MEMBERSHIPS = ScimUser._meta.get_field("memberships").get_accessor_name()


def relations_attach(user: ScimUser, *, emails: list[ScimEmail], memberships: list[ScimGroupMember]) -> None:
    """Give ``user`` its emails and group memberships as ``prefetch_related`` would: ``user.emails.all()``
    and ``user.memberships.all()`` then answer from these lists without a query."""
    cache = user.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, model, items in ((EMAILS, ScimEmail, emails), (MEMBERSHIPS, ScimGroupMember, memberships)):
        queryset = QuerySet(model=model)
        queryset._result_cache = items
        queryset._prefetch_done = True
        cache[name] = queryset


def relations_load(users: Sequence[ScimUser]) -> None:
    """Load the emails and group memberships (with each group's id and name) of those of ``users``
    that have none attached yet, in one statement, each kind in id order (the order they were
    added), and attach them (``relations_attach``)."""
    users = [user for user in users if not _relations_attached(user)]
    if not users:
        return
    ids = [user.pk for user in users]
    placeholders = ", ".join(["%s"] * len(ids))
    emails: dict[int, list] = {pk: [] for pk in ids}
    memberships: dict[int, list] = {pk: [] for pk in ids}
    db = connections[DEFAULT_DB_ALIAS]
    # One user (a lookup, a read, a write's answer) is the shape every IdP call repeats: prepared
    # (on PostgreSQL its planning costs several times running it). A page's varies with its size.
    with prepared_cursor(db.alias) if len(ids) == 1 else db.cursor() as cursor:
        cursor.execute(_RELATIONS.format(ids=placeholders), ids + ids)
        rows = cursor.fetchall()
    _relations_sort(db, rows, emails, memberships)
    for user in users:
        relations_attach(user, emails=emails[user.pk], memberships=memberships[user.pk])


def _relations_sort(
    db: BaseDatabaseWrapper, rows: Iterable[Sequence[Any]], emails: dict, memberships: dict
) -> None:
    """Put each row of ``_RELATIONS_OF`` into its owner's list in ``emails`` or ``memberships``."""
    for kind, pk, owner, text, other, primary, group_pk in rows:
        if kind == 0:
            email = {"id": pk, "user_id": owner, "value": text, "type": other, "primary": primary}
            emails[owner].append(_EMAIL.build_named(db, email))
        elif kind == 1:
            member = _MEMBER.build_named(db, {"id": pk, "group_id": group_pk, "user_id": owner})
            group = _GROUP.build_named(db, {"id": group_pk, "scim_id": text, "display_name": other})
            ScimGroupMember.group.field.set_cached_value(member, group)
            memberships[owner].append(member)


def _relations_attached(user: ScimUser) -> bool:
    cached = getattr(user, "_prefetched_objects_cache", {})
    return EMAILS in cached and MEMBERSHIPS in cached


# --- ``userName eq``: the user, its emails and its groups in one statement ------------------------------

USER = Rows(ScimUser)
_USER_ID = _column(ScimUser, "id")
# Each user row comes once per email and membership it has (once, with the relation columns NULL,
# when it has none): a user has few, and one round trip instead of two is what an IdP's lookup
# before each create waits for, on PostgreSQL a round trip to a server sharing the cores.
_BY_NAME = (
    f"WITH u AS (SELECT {USER.columns('u')} FROM {_table(ScimUser)} u "  # noqa: S608 — names from _meta
    f"WHERE u.{_column(ScimUser, 'directory')} = %s AND u.{_column(ScimUser, 'user_name_key')} = %s) "
    f"SELECT {USER.columns('u')}, {', '.join('r.' + c for c in _RELATION_COLUMNS)} FROM u "
    f"LEFT JOIN ({_RELATIONS_OF.format(ids=f'SELECT {_USER_ID} FROM u')}) r "  # noqa: S608
    f"ON r.owner = u.{_USER_ID} "
    f"ORDER BY u.{_USER_ID}, r.kind, r.id"
)


def users_by_name_key(directory: Directory, user_name_key: str) -> list[ScimUser]:
    """The directory's users whose ``user_name_key`` is exactly ``user_name_key`` (one index hit;
    the name is unique in a directory), their emails and groups attached as ``relations_load``
    attaches them, all read in one statement."""
    db = connections[DEFAULT_DB_ALIAS]
    with prepared_cursor(db.alias) as cursor:
        cursor.execute(_BY_NAME, [directory.pk, user_name_key])
        found = cursor.fetchall()
    width = len(USER)
    users: dict[Any, ScimUser] = {}
    for row in found:
        if row[0] not in users:
            users[row[0]] = USER.build(db, row[:width])
    emails: dict[Any, list] = {pk: [] for pk in users}
    memberships: dict[Any, list] = {pk: [] for pk in users}
    _relations_sort(db, (row[width:] for row in found), emails, memberships)
    for pk, user in users.items():
        relations_attach(user, emails=emails[pk], memberships=memberships[pk])
    return list(users.values())


# --- what a create checks before it writes: one statement ----------------------------------------------

_DOMAIN = Rows(Domain)
_CREATE_CHECKS = (
    f"SELECT {_DOMAIN.columns('dm')}, "  # noqa: S608 — names from _meta
    f"CASE WHEN EXISTS (SELECT 1 FROM {_table(ScimUser)} u WHERE u.{_column(ScimUser, 'directory')} = %s "
    f"AND u.{_column(ScimUser, 'user_name_key')} = %s) THEN 1 ELSE 0 END, "
    f"(SELECT a.{_column(Account, 'id')} FROM {_table(Account)} a WHERE a.{_column(Account, 'email')} = %s) "
    f"FROM (SELECT 1 AS one) x LEFT JOIN {_table(Domain)} dm ON dm.{_column(Domain, 'id')} = "
    f"(SELECT MIN(d2.{_column(Domain, 'id')}) FROM {_table(Domain)} d2 "
    f"WHERE d2.{_column(Domain, 'org')} = %s AND d2.{_column(Domain, 'name')} = %s "
    f"AND d2.{_column(Domain, 'status')} = %s)"
)


def create_checks(
    directory: Directory, *, domain_name: str, user_name_key: str, email: str
) -> tuple[Domain | None, bool, int | None]:
    """For a create: the org's verified domain ``domain_name`` (or None), whether the directory has
    a user with ``user_name_key``, and the pk of the account with ``email`` (or None)."""
    db = connections[DEFAULT_DB_ALIAS]
    with prepared_cursor(db.alias) as cursor:
        cursor.execute(
            _CREATE_CHECKS,
            [directory.pk, user_name_key, email, directory.org_id, domain_name, Domain.Status.VERIFIED],
        )
        row = cursor.fetchone()
    width = len(_DOMAIN)
    domain = None if row[0] is None else _DOMAIN.build(db, row[:width])
    return domain, bool(row[width]), row[width + 1]


# --- inserts of a create ------------------------------------------------------------------------------


@cache
def _insert_statement(model: type[Model], vendor: str) -> tuple[str, list, bool]:
    """``model``'s INSERT of every column but its auto primary key, whether it returns the key."""
    db = connections[DEFAULT_DB_ALIAS]
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    returning = db.features.can_return_columns_from_insert
    sql = (
        f"INSERT INTO {_table(model)} ({', '.join(_q(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
        + (f" RETURNING {_q(model._meta.pk.column)}" if returning else "")
    )
    return sql, fields, returning


def insert(instance: Model) -> None:
    """INSERT a new ``instance`` as ``instance.save()`` would (fields' ``pre_save`` — ``auto_now``
    and the like — then their database preparation) and set its primary key. The SCIM models have
    no signals. Raises ``IntegrityError`` as ``save()`` would."""
    db = connections[DEFAULT_DB_ALIAS]
    sql, fields, returning = _insert_statement(type(instance), db.vendor)
    params = [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]
    with prepared_cursor(db.alias) as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = db.alias


# --- the provisioning log -----------------------------------------------------------------------------

_LOG_FIELDS = [f for f in ProvisioningLog._meta.concrete_fields if not f.primary_key]
_LOG_INSERT = (
    f"INSERT INTO {_table(ProvisioningLog)} ({', '.join(_q(f.column) for f in _LOG_FIELDS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_LOG_FIELDS))})"
)


def log_insert(*, behind: bool = False, **values: Any) -> None:
    """Insert one ``ProvisioningLog`` row; ``values`` by attname (``directory_id``, ``at`` …).

    ``behind`` (a read's line, outside any transaction): noted in memory and written with the
    process's other pending lines in one transaction within ``ORGWARDEN_USAGE_FLUSH_SECONDS``
    (``orgwarden.writebehind``), so an identity provider's lookup writes nothing itself: on SQLite
    it no longer queues on the single writer behind the creates of a sync, on PostgreSQL it no
    longer waits for a commit. The line carries the time of the request, and a crash may lose the
    last interval's read lines. Inside a transaction (a write's line) it is written at once, with
    the write."""
    db = connections[DEFAULT_DB_ALIAS]
    params = [f.get_db_prep_save(values[f.attname], db) for f in _LOG_FIELDS]
    if behind and not db.in_atomic_block:
        LOG_BEHIND.note(lambda pending: pending.append(params))
        return
    with prepared_cursor(db.alias) as cursor:
        cursor.execute(_LOG_INSERT, params)


_DIRECTORY_PK = _LOG_FIELDS.index(ProvisioningLog._meta.get_field("directory"))


def _log_write(batch: list[list]) -> None:
    """Write pending read lines; those of a directory deleted meanwhile go, not the whole batch."""
    db = connections[DEFAULT_DB_ALIAS]
    directories = {line[_DIRECTORY_PK] for line in batch}
    existing = set(Directory.objects.filter(pk__in=directories).values_list("pk", flat=True))
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        cursor.executemany(_LOG_INSERT, [line for line in batch if line[_DIRECTORY_PK] in existing])


LOG_BEHIND: WriteBehind[list] = WriteBehind("provisioning-log", list, _log_write)
