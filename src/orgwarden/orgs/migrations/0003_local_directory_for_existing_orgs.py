"""Every org has exactly one local directory: create it for orgs made before directories existed."""

from django.db import migrations


def create_local_directories(apps, schema_editor):
    Organization = apps.get_model("orgs", "Organization")
    Directory = apps.get_model("orgs", "Directory")
    for org in Organization.objects.exclude(directories__kind="local"):
        Directory.objects.create(org=org, kind="local", name="Local directory")


class Migration(migrations.Migration):
    dependencies = [("orgs", "0002_directory_domain_group_groupmember_orguser_and_more")]
    operations = [migrations.RunPython(create_local_directories, migrations.RunPython.noop)]
