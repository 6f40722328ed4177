"""Database triggers that record, in ``AccessChange``, every change of a row that decides who has
access to an org's sites: a group membership, a grant of a site to a group, an org user.

Why triggers: those rows are written by many service paths (group members added and removed by
hand, by SCIM and by SSO; grants and revocations; groups, sites, org users and accounts deleted,
with Django's cascades; bulk writes) and a signal each of them had to remember would be one more
thing to forget. A trigger sees every insert, delete and relevant update, in the writer's own
transaction, whatever wrote it. Each writes one ``AccessChange`` row (an insert: concurrent writers
never wait for one another) naming the org and the account (a membership, an org user) or the
site (a grant) whose access may have changed; ``insights.access_rollup`` consumes them.

They are (re)installed after every ``migrate`` (``post_migrate``), not by a migration: on SQLite
Django changes a table by building a new one and dropping the old one, which drops its triggers, so
a later migration of one of these tables would otherwise remove them silently. When one was missing,
every org's access rollups are marked to be built again. SQLite and PostgreSQL each get their
own dialect; both statements are plain.
"""

from __future__ import annotations

from django.db import connections

from orgwarden.orgs.models import Group, GroupMember, OrgUser, ProductSite, SiteAccess

_CHANGES = "insights_accesschange"

# table -> (the columns whose update matters, the (org, account, site) a row change touches as a
# SELECT; {row} is OLD or NEW): a membership or an org user touches one account, a grant one site.
WATCHED: dict[str, tuple[tuple[str, ...], str]] = {
    GroupMember._meta.db_table: (
        ("group_id", "account_id"),
        f"SELECT org_id, {{row}}.account_id, NULL FROM {Group._meta.db_table} WHERE id = {{row}}.group_id",  # noqa: S608
    ),
    SiteAccess._meta.db_table: (
        ("site_id", "group_id"),
        f"SELECT org_id, NULL, {{row}}.site_id FROM {ProductSite._meta.db_table} WHERE id = {{row}}.site_id",  # noqa: S608
    ),
    OrgUser._meta.db_table: (("org_id", "account_id"), "SELECT {row}.org_id, {row}.account_id, NULL"),
}


def trigger_names(table: str, vendor: str) -> list[str]:
    """The triggers installed on ``table`` (SQLite has one per event, PostgreSQL one in all)."""
    if vendor == "postgresql":
        return [f"insights_access_{table}"]
    return [f"insights_access_{table}_{event}" for event in ("insert", "delete", "update")]


def _sqlite(table: str, columns: tuple[str, ...], org_of: str) -> list[str]:
    insert = f"INSERT INTO {_CHANGES} (org_id, account_id, site_id) "
    return [
        f"CREATE TRIGGER IF NOT EXISTS insights_access_{table}_insert AFTER INSERT ON {table} "
        f"BEGIN {insert}{org_of.format(row='NEW')}; END",
        f"CREATE TRIGGER IF NOT EXISTS insights_access_{table}_delete AFTER DELETE ON {table} "
        f"BEGIN {insert}{org_of.format(row='OLD')}; END",
        f"CREATE TRIGGER IF NOT EXISTS insights_access_{table}_update AFTER UPDATE OF {', '.join(columns)} "
        f"ON {table} BEGIN {insert}{org_of.format(row='OLD')}; {insert}{org_of.format(row='NEW')}; END",
    ]


def _postgresql(table: str, columns: tuple[str, ...], org_of: str) -> list[str]:
    name = f"insights_access_{table}"
    insert = f"INSERT INTO {_CHANGES} (org_id, account_id, site_id) "
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {insert}{org_of.format(row='OLD')}; END IF; "
        f"IF TG_OP <> 'DELETE' THEN {insert}{org_of.format(row='NEW')}; END IF; "
        "RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]


def installed(using: str = "default") -> set[str]:
    """The names of the insights triggers present in the database."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'insights_access_%%'")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'insights_access_%'"
            )
        return {row[0] for row in cursor.fetchall()}


def install(using: str = "default") -> bool:
    """Install the triggers that are missing; returns whether any was (the caller then marks every
    org's access rollups to be built again: changes made without them were not recorded)."""
    connection = connections[using]
    present = installed(using)
    missing = [table for table in WATCHED if not set(trigger_names(table, connection.vendor)) <= present]
    if not missing:
        return False
    build = _postgresql if connection.vendor == "postgresql" else _sqlite
    with connection.cursor() as cursor:
        for table in missing:
            columns, org_of = WATCHED[table]
            for statement in build(table, columns, org_of):
                cursor.execute(statement)
    return True
