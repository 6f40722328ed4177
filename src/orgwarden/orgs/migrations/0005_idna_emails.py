"""Org users' copies of their accounts' emails, and pending admin invitations, in the ASCII form
of internationalized domains (after ``accounts.0005_idna_emails``)."""

from django.db import migrations
from django.db.models import F

from orgwarden.accounts.models import normalize_email


def ascii_emails(apps, schema_editor):
    OrgUser = apps.get_model("orgs", "OrgUser")
    AdminInvitation = apps.get_model("orgs", "AdminInvitation")
    # read first, then write (SQLite gives no isolation between a running read and writes to it)
    stale = list(OrgUser.objects.exclude(email=F("account__email")).values_list("pk", "account__email"))
    for pk, email in stale:
        OrgUser.objects.filter(pk=pk).update(email=email)
    for pk, email in list(AdminInvitation.objects.values_list("pk", "email")):
        if normalize_email(email) != email:
            AdminInvitation.objects.filter(pk=pk).update(email=normalize_email(email))


class Migration(migrations.Migration):
    dependencies = [("orgs", "0004_org_user_index_with_account"), ("accounts", "0005_idna_emails")]
    operations = [migrations.RunPython(ascii_emails, migrations.RunPython.noop)]
