"""``orgwarden_idn_unicode(text)`` on PostgreSQL, for the audit log's search of labels typed in part.

See ``orgwarden.db.idn``: SQLite gets the same function registered on each connection instead.
"""

from django.db import migrations

from orgwarden.db.idn import POSTGRESQL_CREATE, POSTGRESQL_DROP


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql, params=None)  # None: the '%' in the SQL is no placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_actor_api_key")]
    operations = [migrations.RunPython(_run(POSTGRESQL_CREATE), _run(POSTGRESQL_DROP))]
