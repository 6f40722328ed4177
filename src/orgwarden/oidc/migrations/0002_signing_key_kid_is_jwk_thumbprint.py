"""Signing keys made before this migration had a random ``kid`` that nothing outside the database
showed; the JWKS and ID tokens use the key's JWK thumbprint. Set ``kid`` to it, so the id in the
audit log and in ``orgwarden oidc rotate-signing-key`` is the one relying parties see. A key this
installation's secret cannot read (the secret changed) keeps its old ``kid``; it cannot sign anyway."""

from django.db import migrations


def kid_to_thumbprint(apps, schema_editor):
    from orgwarden.accounts import crypto
    from orgwarden.oidc.keys import kid_of

    SigningKey = apps.get_model("oidc", "SigningKey")
    for key in SigningKey.objects.all():
        pem = crypto.decrypt(key.private_pem)
        if pem:
            SigningKey.objects.filter(pk=key.pk).update(kid=kid_of(pem))


class Migration(migrations.Migration):
    dependencies = [("oidc", "0001_initial")]

    operations = [migrations.RunPython(kid_to_thumbprint, migrations.RunPython.noop)]
