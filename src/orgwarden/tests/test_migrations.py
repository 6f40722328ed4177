"""An upgrade's migrations leave the version before it working while it still serves.

``orgwarden serve`` of the new version migrates as it starts, while the machines still on the old
version keep serving (README, "Upgrading"). So a migration may add, never take away or rename, and
a column it adds to an existing table must be one the old version's inserts, which do not name it,
can leave out: nullable, or with a default in the database (``db_default``). A ``default=`` alone
is Django's, applied by the new version only: the column is created with a database default that
Django drops again at once, and every insert of the old version then fails on the NOT NULL column
— sign-ups, SCIM creates, audit events — until the last old process is gone.

Removing or renaming a column or a table takes two releases: stop using it, then drop it.
``GRANDFATHERED`` lists the operations that broke the rule before it was checked.
"""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED

# (app, migration, operation): released before this check; each broke inserts of the version before
# it for the minutes of its upgrade.
GRANDFATHERED = {
    ("accounts", "0002_account_department_account_job_title_and_more", "AddField account.department"),
    ("accounts", "0002_account_department_account_job_title_and_more", "AddField account.job_title"),
    ("accounts", "0002_account_department_account_job_title_and_more", "AddField account.location"),
    ("accounts", "0002_account_department_account_job_title_and_more", "AddField account.organization"),
    ("accounts", "0003_two_step_verification", "AddField account.totp_secret"),
    ("helpcenter", "0003_customer_email_verified", "AddField customer.email_verified"),
    ("insights", "0002_access_rollup", "AddField rollupstate.access_built"),
}
BREAKING = (migrations.RemoveField, migrations.RenameField, migrations.DeleteModel, migrations.RenameModel)


def breaking_operations() -> set[tuple[str, str, str]]:
    """Every operation of orgwarden's migrations that the version before it could not serve beside."""
    found = set()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, name), migration in loader.disk_migrations.items():
        if not migration.__module__.startswith("orgwarden."):
            continue
        created = set()  # tables this migration makes: the old version never writes to them
        for operation in migration.operations:
            if isinstance(operation, migrations.CreateModel):
                created.add(operation.name_lower)
            elif isinstance(operation, migrations.AddField) and operation.model_name_lower not in created:
                field = operation.field
                if not (field.null or field.many_to_many or field.db_default is not NOT_PROVIDED):
                    found.add((app, name, f"AddField {operation.model_name_lower}.{operation.name}"))
            elif isinstance(operation, BREAKING):
                found.add((app, name, f"{type(operation).__name__} {operation.describe()}"))
    return found


def test_no_migration_breaks_the_version_still_serving_during_an_upgrade():
    assert breaking_operations() - GRANDFATHERED == set(), (
        "give a new column null=True or db_default=…, and remove or rename only in a later release "
        "than the one that stops using it"
    )


def test_the_check_sees_what_breaks_the_version_before():
    """The grandfathered operations are found: the check reads every app's migrations."""
    assert breaking_operations() >= GRANDFATHERED
