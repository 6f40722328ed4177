"""Emails on internationalized domains in their ASCII form (``normalize_email``), as domains are.

An account stored as ``anna@müller.de`` is now ``anna@xn--mller-kva.de``: the form its domain is
verified in, and the form sign-in, SCIM and SAML look it up by. An account whose ASCII form is
already another account's keeps its address (both would be one person; an admin decides).
"""

from django.db import migrations

from orgwarden.accounts.models import normalize_email


def ascii_emails(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    # read first, then write (SQLite gives no isolation between a running read and writes to it)
    for pk, email in list(Account.objects.values_list("pk", "email")):
        normal = normalize_email(email)
        if normal != email and not Account.objects.filter(email=normal).exists():
            Account.objects.filter(pk=pk).update(email=normal)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_not_active_index")]
    operations = [migrations.RunPython(ascii_emails, migrations.RunPython.noop)]
