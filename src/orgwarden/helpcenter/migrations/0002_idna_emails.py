"""Help-center customers' emails in the ASCII form of internationalized domains, as they are now
looked up; a customer whose ASCII form another customer of the help center has keeps its own."""

from django.db import migrations

from orgwarden.accounts.models import normalize_email


def ascii_emails(apps, schema_editor):
    Customer = apps.get_model("helpcenter", "Customer")
    # read first, then write (SQLite gives no isolation between a running read and writes to it)
    for pk, help_center_id, email in list(Customer.objects.values_list("pk", "help_center_id", "email")):
        normal = normalize_email(email)
        if (
            normal != email
            and not Customer.objects.filter(help_center_id=help_center_id, email=normal).exists()
        ):
            Customer.objects.filter(pk=pk).update(email=normal)


class Migration(migrations.Migration):
    dependencies = [("helpcenter", "0001_initial")]
    operations = [migrations.RunPython(ascii_emails, migrations.RunPython.noop)]
