"""Forms of the customer portal and of the console's help-center page (parsing only)."""

from __future__ import annotations

from django import forms


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=1024, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SignUpForm(forms.Form):
    display_name = forms.CharField(
        label="Your name",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=1024, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )


class ResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class ResetForm(forms.Form):
    password = forms.CharField(
        label="New password",
        max_length=1024,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class AuthenticationForm(forms.Form):
    password_enabled = forms.BooleanField(
        label="Password sign-in (customers sign up with email and password)", required=False
    )
    sso_enabled = forms.BooleanField(
        label="Single sign-on through the help center's identity provider", required=False
    )


class HelpCenterIdpForm(forms.Form):
    idp_entity_id = forms.CharField(label="IdP entity ID (Issuer)", max_length=1024, required=False)
    idp_sso_url = forms.URLField(
        label="IdP single sign-on URL", max_length=1024, required=False, assume_scheme="https"
    )
    allow_idp_initiated = forms.BooleanField(
        label="Allow sign-in started at the identity provider", required=False
    )
    allow_sha1 = forms.BooleanField(
        label="Accept SHA-1 signatures (weak: only for IdPs that can't sign with SHA-256)", required=False
    )
