"""SiteUserCount, filled from the SiteUser rows already built (it is their count by definition;
changes of access recorded since are applied to both at the next read)."""

import django.db.models.deletion
from django.db import migrations, models

FILL = (
    "INSERT INTO insights_siteusercount (org_id, site_id, last_day, users) "
    "SELECT org_id, site_id, last_day, COUNT(*) FROM insights_siteuser GROUP BY org_id, site_id, last_day"
)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0002_access_rollup"),
        ("orgs", "0005_idna_emails"),
    ]

    operations = [
        migrations.CreateModel(
            name="SiteUserCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("last_day", models.DateField(blank=True, null=True)),
                ("users", models.IntegerField()),
                (
                    "org",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="orgs.organization",
                    ),
                ),
                (
                    "site",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="orgs.productsite",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["org", "site", "last_day"], name="insights_site_user_count")
                ],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
