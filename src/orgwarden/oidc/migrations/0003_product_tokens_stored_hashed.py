"""Product access and refresh tokens issued before ``COMPLIANT_BCP_RFC9700_TOKEN_STORAGE`` kept
their value in plaintext beside its SHA-256 (``token_checksum``, which django-oauth-toolkit's own
migrations filled for every row). Clear the plaintext: the tokens keep working, as DOT looks them
up by the checksum, and the table no longer holds a token that works."""

from django.db import migrations


def plaintext_clear(apps, schema_editor) -> None:
    alias = schema_editor.connection.alias
    for name in ("AccessToken", "RefreshToken"):
        model = apps.get_model("oauth2_provider", name)
        model.objects.using(alias).exclude(token="").exclude(token_checksum__isnull=True).update(token="")


class Migration(migrations.Migration):
    dependencies = [
        ("oidc", "0002_signing_key_kid_is_jwk_thumbprint"),
        ("oauth2_provider", "0015_refreshtoken_token_checksum"),
    ]

    operations = [migrations.RunPython(plaintext_clear, migrations.RunPython.noop)]
