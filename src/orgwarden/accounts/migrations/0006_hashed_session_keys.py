"""Session keys stored hashed (``stored_session_key``): the cookie keeps the key, the row its SHA-256.

Each live session's row is re-keyed in place, so nobody is signed out by the upgrade; expired rows
are dropped. Going back cannot recover the keys: it ends every session (everyone signs in again).
"""

from django.db import migrations
from django.utils import timezone

from orgwarden.accounts.models import stored_session_key

_HASHED_LENGTH = 40  # Django's keys are 32 characters; a stored hash is 40 hex digits


def hash_keys(apps, schema_editor):
    Session = apps.get_model("accounts", "Session")
    Session.objects.filter(expire_date__lte=timezone.now()).delete()
    # read first, then write (SQLite gives no isolation between a running read and writes to it)
    for key in list(Session.objects.values_list("session_key", flat=True)):
        if len(key) != _HASHED_LENGTH:
            Session.objects.filter(session_key=key).update(session_key=stored_session_key(key))


def end_sessions(apps, schema_editor):
    apps.get_model("accounts", "Session").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_idna_emails")]
    operations = [migrations.RunPython(hash_keys, end_sessions)]
