"""Console forms of Security → Identity providers (parsing only; the services decide)."""

from __future__ import annotations

from django import forms

from orgwarden.sso.models import SamlConnection

MAX_METADATA = 256 * 1024


class IdpAddForm(forms.Form):
    vendor = forms.ChoiceField(label="Identity provider", choices=SamlConnection.Vendor.choices)
    name = forms.CharField(label="Name", max_length=100, help_text="For example “Okta (employees)”.")


class IdpConfigForm(forms.Form):
    idp_entity_id = forms.CharField(label="IdP entity ID (Issuer)", max_length=1024, required=False)
    idp_sso_url = forms.URLField(
        label="IdP single sign-on URL", max_length=1024, required=False, assume_scheme="https"
    )
    attr_first_name = forms.CharField(label="First name attribute", max_length=255, required=False)
    attr_last_name = forms.CharField(label="Last name attribute", max_length=255, required=False)
    attr_user_id = forms.CharField(
        label="Stable user ID attribute",
        max_length=255,
        required=False,
        help_text="Matched before the email, so an email change at the IdP keeps the same account.",
    )
    allow_idp_initiated = forms.BooleanField(
        label="Allow sign-in started at the identity provider", required=False
    )
    allow_sha1 = forms.BooleanField(
        label="Accept SHA-1 signatures (weak: only for IdPs that can't sign with SHA-256)", required=False
    )


class CertificateForm(forms.Form):
    pem = forms.CharField(
        label="Signing certificate (PEM)",
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        max_length=20000,
    )


class MetadataForm(forms.Form):
    xml = forms.CharField(
        label="IdP metadata XML",
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        required=False,
        max_length=MAX_METADATA,
    )
    file = forms.FileField(label="…or upload the metadata file", required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > MAX_METADATA:
                raise forms.ValidationError("The metadata file is larger than 256 KiB.")
            data["document"] = upload.read()
        elif data.get("xml"):
            data["document"] = data["xml"].encode()
        else:
            raise forms.ValidationError("Paste the metadata XML or choose a file.")
        return data


class DomainLinkForm(forms.Form):
    domain_id = forms.CharField(max_length=24)
