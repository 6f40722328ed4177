from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AuditConfig(AppConfig):
    name = "orgwarden.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from orgwarden.db.idn import sqlite_register

        # The search reads stored ASCII labels back in Unicode; PostgreSQL has it from a migration.
        connection_created.connect(sqlite_register, dispatch_uid="orgwarden.db.idn.sqlite_register")
