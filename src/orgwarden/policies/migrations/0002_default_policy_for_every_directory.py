"""Every directory has exactly one default policy: create it for directories made before policies."""

from django.db import migrations


def create_defaults(apps, schema_editor):
    Directory = apps.get_model("orgs", "Directory")
    Policy = apps.get_model("policies", "AuthenticationPolicy")
    for directory in Directory.objects.exclude(policies__is_default=True):
        name = "Default policy" if directory.kind == "local" else f"{directory.name} default policy"
        Policy.objects.create(org_id=directory.org_id, directory=directory, name=name[:100], is_default=True)


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial"), ("orgs", "0003_local_directory_for_existing_orgs")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
