"""SCIM records still linked to an account their org released before releases unlinked them.

Since ``orgs.hooks.account_released`` (``scim.services.scim_records_release``), releasing an account
unlinks the org's SCIM records from it. Records left linked by an earlier release are unlinked here
the same way, so they show under "unlinked records" and the former org's group sync no longer
reaches the account. (SCIM writes already ignore such a link: ``services._still_managed``.)
"""

from django.db import migrations
from django.db.models import Exists, OuterRef
from django.utils import timezone

LINK_ERROR = "The organization released the account this record provisioned."


def unlink_released(apps, schema_editor):
    ScimUser = apps.get_model("scim", "ScimUser")
    OrgUser = apps.get_model("orgs", "OrgUser")
    managed = OrgUser.objects.filter(
        org_id=OuterRef("directory__org_id"), account_id=OuterRef("account_id"), is_managed=True
    )
    stale = list(
        ScimUser.objects.filter(account__isnull=False).filter(~Exists(managed)).values_list("pk", flat=True)
    )
    ScimUser.objects.filter(pk__in=stale).update(
        account=None, link_error=LINK_ERROR, updated_at=timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [("scim", "0001_initial"), ("orgs", "0005_idna_emails")]
    operations = [migrations.RunPython(unlink_released, migrations.RunPython.noop)]
