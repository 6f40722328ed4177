"""First-admin setup: the one-time link ``orgwarden serve`` prints while no organization exists.

The token is a signed, timestamped value (``signing.dumps("first-admin", salt=SETUP_SALT)``), valid
for 24 hours. It grants something only while the installation has no organization: the first
successful POST creates the account and the organization (``orgs.services.installation_setup``), and
from then on every setup link answers 410 "already set up" — also a POST sent in the same instant as
the first, which waits for it. Whoever can read the server's output is the operator; that is who
gets the link.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from orgwarden.accounts import signin
from orgwarden.accounts.exceptions import AccountsError, InvalidPassword
from orgwarden.accounts.forms import PASSWORD_MAX
from orgwarden.orgs import services as org_services
from orgwarden.orgs.exceptions import AlreadySetUp, OrgsError
from orgwarden.orgs.models import Organization

SETUP_SALT = "orgwarden.setup"
SETUP_VALUE = "first-admin"
SETUP_MAX_AGE = 24 * 3600  # seconds


def installation_is_set_up() -> bool:
    """True once any organization exists; the setup link then grants nothing."""
    return Organization.objects.exists()


def setup_token_create() -> str:
    return signing.dumps(SETUP_VALUE, salt=SETUP_SALT)


def setup_token_valid(token: str) -> bool:
    """True if ``token`` was signed by this installation's key in the last 24 hours."""
    try:
        return signing.loads(token, salt=SETUP_SALT, max_age=SETUP_MAX_AGE) == SETUP_VALUE
    except signing.BadSignature:  # also covers SignatureExpired
        return False


def setup_url() -> str:
    """The absolute setup link, for ``orgwarden serve`` to print."""
    from orgwarden.accounts.emails import absolute_url

    return absolute_url(reverse("console:setup", args=[setup_token_create()]))


class SetupForm(forms.Form):
    email = forms.EmailField(
        label="Your work email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    display_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password = forms.CharField(
        max_length=PASSWORD_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="8 to 100 characters; not a common password, not all digits, not like your name.",
    )
    org_name = forms.CharField(
        label="Organization name", max_length=100, help_text="Usually your company's name."
    )


@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest, token: str) -> HttpResponse:
    if not setup_token_valid(token):
        return render(request, "console/setup.html", {"state": "invalid"}, status=400)
    if installation_is_set_up():
        return render(request, "console/setup.html", {"state": "done"}, status=410)
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account, org = org_services.installation_setup(
                email=data["email"],
                display_name=data["display_name"],
                password=data["password"],
                org_name=data["org_name"],
            )
        except AlreadySetUp:
            return render(request, "console/setup.html", {"state": "done"}, status=410)
        except AccountsError as exc:
            field = "password" if isinstance(exc, InvalidPassword) else None
            for message in getattr(exc, "messages", [exc.message]):
                form.add_error(field, message)
        except OrgsError as exc:
            form.add_error("org_name", exc.message)
        else:
            messages.success(request, f"{org.name} is ready. You are its first admin.")
            next_url = reverse("console:org_home", args=[org.org_id])
            flow = signin.flow_start(request, email=account.email, next_url=next_url, proofs=["password"])
            return signin.flow_advance(request, flow)
    return render(
        request, "console/setup.html", {"state": "form", "form": form}, status=400 if form.errors else 200
    )
