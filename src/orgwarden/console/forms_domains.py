"""Console forms of Directory → Domains. They parse input; ``orgs.services.domains`` decides and writes."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from orgwarden.orgs.models import Domain

MAX_SELECTED = 500


class DomainAddForm(forms.Form):
    name = forms.CharField(
        label="Domain",
        max_length=300,  # the service says "at most 253 characters" in its own words
        widget=forms.TextInput(
            attrs={"placeholder": "example.com", "autocomplete": "off", "spellcheck": "false"}
        ),
    )


class DomainVerifyForm(forms.Form):
    method = forms.ChoiceField(choices=Domain.Method.choices)


class DomainClaimForm(forms.Form):
    claim = forms.ChoiceField(
        label="Claim accounts",
        choices=[
            (Domain.Claim.AUTOMATIC, "Automatically: every account on this domain, now and from now on"),
            (Domain.Claim.MANUAL, "Manually: I choose the accounts to claim"),
        ],
        widget=forms.RadioSelect,
    )


class AccountSearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or email"}),
    )
    after = forms.EmailField(required=False, max_length=254, widget=forms.HiddenInput)


class AccountIdsField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        return [str(v) for v in value]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > MAX_SELECTED:
            raise ValidationError(f"Select at most {MAX_SELECTED} accounts at a time.")
        if any(len(v) > 24 or not v.isalnum() for v in value):
            raise ValidationError("That selection is not valid. Reload the page and try again.")


class ClaimSelectedForm(forms.Form):
    account = AccountIdsField(error_messages={"required": "Select at least one account to claim."})
