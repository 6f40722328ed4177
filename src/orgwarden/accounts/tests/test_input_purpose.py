"""WCAG 1.3.5 (Identify Input Purpose, AA): a field asking for the person's own name, email or
password says so with ``autocomplete``, so browsers and assistive tools can fill it in or mark it.

axe checks that a token, when present, is valid; not that it is there. Fields about someone else
(an invitee's email, a user's name typed by an admin) carry none on purpose.
"""

from __future__ import annotations

import pytest

from orgwarden.accounts import forms as account_forms
from orgwarden.helpcenter import forms as helpcenter_forms


@pytest.mark.parametrize(
    ("form", "field", "token"),
    [
        (account_forms.EmailForm, "email", "username"),
        (account_forms.PasswordForm, "password", "current-password"),
        (account_forms.SignupForm, "email", "email"),
        (account_forms.SignupForm, "display_name", "name"),
        (account_forms.SignupForm, "password", "new-password"),
        (account_forms.ProfileForm, "display_name", "name"),
        (account_forms.EmailChangeForm, "new_email", "email"),
        (helpcenter_forms.SignInForm, "email", "email"),
        (helpcenter_forms.SignUpForm, "display_name", "name"),
        (helpcenter_forms.SignUpForm, "email", "email"),
        (helpcenter_forms.SignUpForm, "password", "new-password"),
        (helpcenter_forms.ResetRequestForm, "email", "email"),
        (helpcenter_forms.ResetForm, "password", "new-password"),
    ],
)
def test_fields_of_ones_own_details_name_their_purpose(form, field, token):
    assert form().fields[field].widget.attrs.get("autocomplete") == token
