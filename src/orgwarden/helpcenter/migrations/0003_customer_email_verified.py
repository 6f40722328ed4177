"""Whether a help-center customer proved the email. Existing customers start unproven: one with a
password from a sign-up may be whoever signed up first with the address, so the first SSO sign-in
of the address clears it (``services.customer_sso_signin``); an SSO-only customer loses nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("helpcenter", "0002_idna_emails")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="email_verified",
            field=models.BooleanField(default=False),
        ),
    ]
