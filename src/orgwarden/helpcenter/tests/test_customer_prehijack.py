"""Customer pre-hijacking: someone signs up at a help center with an address they do not own (a
password sign-up proves nothing), then the address's owner signs in with the help center's SSO. The
owner's first SSO sign-in clears the sign-up's password and ends its portal sessions."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts import emails
from orgwarden.audit.models import AuditEvent
from orgwarden.helpcenter.models import Customer
from orgwarden.helpcenter.tests.conftest import sp

pytestmark = pytest.mark.django_db
SQUATTER_PASSWORD = "Squatter-pass-123!"
OWNER_PASSWORD = "the owner's own passphrase 9"


def url(name: str, site) -> str:
    return reverse(f"helpcenter:{name}", args=[site.site_id])


def password_sign_in(site, password: str) -> Client:
    client = Client()
    client.post(url("login", site), {"email": "pat@customer.test", "password": password})
    return client


def in_portal(client: Client, site) -> bool:
    return client.get(url("portal", site)).status_code == 200


def sso_sign_in(site, idp, sso_help_center) -> Client:
    client = Client()
    answer = client.post(
        url("saml_acs", site),
        {"SAMLResponse": idp.response(**sp(sso_help_center), email="pat@customer.test")},
    )
    assert answer.status_code == 302 and in_portal(client, site)
    return client


def test_the_owners_first_sso_sign_in_clears_the_squatters_password_and_sessions(site, sso_help_center, idp):
    squatter = Client()
    squatter.post(
        url("signup", site),
        {"email": "pat@customer.test", "password": SQUATTER_PASSWORD, "display_name": "Pat"},
    )
    assert in_portal(squatter, site)
    owner = sso_sign_in(site, idp, sso_help_center)
    assert Customer.objects.count() == 1
    customer = Customer.objects.get()
    assert customer.password == "" and customer.email_verified is True
    assert not in_portal(squatter, site)
    assert not in_portal(password_sign_in(site, SQUATTER_PASSWORD), site)
    event = AuditEvent.objects.get(action="helpcenter:customer:unverified_password_cleared")
    assert customer.customer_id in {target["id"] for target in event.targets}
    assert (
        AuditEvent.objects.filter(action="helpcenter:customer:signed_in", details__method="sso").count() == 1
    )
    # A second SSO sign-in has nothing left to clear; the owner stays signed in.
    sso_sign_in(site, idp, sso_help_center)
    assert in_portal(owner, site)
    assert AuditEvent.objects.filter(action="helpcenter:customer:unverified_password_cleared").count() == 1


def test_a_password_set_through_the_emailed_reset_link_survives_sso(
    site, sso_help_center, idp, mailoutbox, django_capture_on_commit_callbacks
):
    Client().post(
        url("signup", site),
        {"email": "pat@customer.test", "password": SQUATTER_PASSWORD, "display_name": "Pat"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(url("reset", site), {"email": "pat@customer.test"})
    emails.background_drain()  # the reset email leaves in the background
    link = re.search(r"http://testserver(/helpcenter/\S+)", mailoutbox[-1].body).group(1)
    assert Client().post(link, {"password": OWNER_PASSWORD}).status_code == 302
    sso_sign_in(site, idp, sso_help_center)
    assert in_portal(password_sign_in(site, OWNER_PASSWORD), site)
    assert not AuditEvent.objects.filter(action="helpcenter:customer:unverified_password_cleared").exists()
