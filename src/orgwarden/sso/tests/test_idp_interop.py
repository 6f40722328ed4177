"""What real identity providers send, through the ACS with the pysaml2 IdP: a persistent or
transient NameID with the email in an attribute (AD FS, Entra ID set to "Persistent"), under each
IdP's attribute name; and the refusals that follow when no email is sent at all."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.sso.models import SamlIdentity
from orgwarden.sso.tests.conftest import URN
from orgwarden.sso.tests.test_acs import acs, signed_in_as, sp, sso_failures

pytestmark = pytest.mark.django_db

ENTRA_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"


@pytest.mark.parametrize(
    "email_attribute",
    [ENTRA_EMAIL, "email", "mail", "User.email", "Email"],
    ids=["entra-adfs", "google-okta", "ldap-jumpcloud", "onelogin", "capitalised"],
)
def test_persistent_name_id_with_the_email_in_an_attribute_signs_the_account_in(
    connection, idp, email_attribute
):
    connection.attr_user_id = ""  # no user-id attribute mapped: the persistent NameID serves
    connection.save()
    account = AccountFactory(email="ada@example.com")
    client = Client()
    saml_response = idp.response(
        **sp(connection),
        email="ignored",
        name_id="a1b2-c3d4-persistent",
        name_id_format=NAMEID_FORMAT_PERSISTENT,
        attribute_names_as_sent=True,
        attributes={email_attribute: "Ada@Example.com", "givenName": "Ada"},
    )
    response = client.post(acs(connection), {"SAMLResponse": saml_response})
    assert response.status_code == 302, response.content
    assert signed_in_as(client) == str(account.pk)
    # The persistent NameID is the stable id: an email change at the IdP keeps the account.
    assert SamlIdentity.objects.get(connection=connection).stable_id == "a1b2-c3d4-persistent"


def test_the_persistent_name_id_finds_the_account_after_an_email_change(connection, idp):
    connection.attr_user_id = ""
    connection.save()
    account = AccountFactory(email="ada@example.com")
    for email in ("ada@example.com", "ada.lovelace@example.com"):
        client = Client()
        saml_response = idp.response(
            **sp(connection),
            email="ignored",
            name_id="a1b2-c3d4-persistent",
            name_id_format=NAMEID_FORMAT_PERSISTENT,
            attribute_names_as_sent=True,
            attributes={ENTRA_EMAIL: email},
        )
        assert client.post(acs(connection), {"SAMLResponse": saml_response}).status_code == 302
        assert signed_in_as(client) == str(account.pk)
    assert not Account.objects.filter(email="ada.lovelace@example.com").exists()


def test_a_mapped_user_id_attribute_wins_over_the_persistent_name_id(connection, idp):
    AccountFactory(email="ada@example.com")
    saml_response = idp.response(
        **sp(connection),
        email="ignored",
        name_id="a1b2-c3d4-persistent",
        name_id_format=NAMEID_FORMAT_PERSISTENT,
        attribute_names_as_sent=True,
        attributes={"mail": "ada@example.com", URN + "uid": "00u-ada"},
    )
    assert Client().post(acs(connection), {"SAMLResponse": saml_response}).status_code == 302
    assert SamlIdentity.objects.get(connection=connection).stable_id == "00u-ada"


def test_a_transient_name_id_is_never_the_stable_id(connection, idp):
    connection.attr_user_id = ""
    connection.save()
    AccountFactory(email="ada@example.com")
    saml_response = idp.response(
        **sp(connection),
        email="ignored",
        name_id="_transient-one-time",
        name_id_format=NAMEID_FORMAT_TRANSIENT,
        attribute_names_as_sent=True,
        attributes={"email": "ada@example.com"},
    )
    assert Client().post(acs(connection), {"SAMLResponse": saml_response}).status_code == 302
    assert SamlIdentity.objects.get(connection=connection).stable_id == "ada@example.com"


def test_an_email_name_id_wins_over_an_email_attribute(connection, idp):
    ada = AccountFactory(email="ada@example.com")
    AccountFactory(email="bob@example.com")
    client = Client()
    saml_response = idp.response(
        **sp(connection),
        email="ada@example.com",
        attributes={"email": "bob@example.com"},
        attribute_names_as_sent=True,
    )
    assert client.post(acs(connection), {"SAMLResponse": saml_response}).status_code == 302
    assert signed_in_as(client) == str(ada.pk)


def test_an_opaque_name_id_without_an_email_attribute_says_what_is_missing(connection, idp):
    AccountFactory(email="ada@example.com")
    client = Client()
    saml_response = idp.response(
        **sp(connection),
        email="ignored",
        name_id="a1b2-c3d4-persistent",
        name_id_format=NAMEID_FORMAT_PERSISTENT,
        attribute_names_as_sent=True,
        attributes={"email": "not an email", "givenName": "Ada"},
    )
    response = client.post(acs(connection), {"SAMLResponse": saml_response})
    assert response.status_code == 400 and b"name_id_invalid" in response.content
    assert signed_in_as(client) is None
    assert "no email attribute" in sso_failures("name_id_invalid").get().details["detail"]


def test_the_connection_test_shows_the_email_read_from_the_attribute(connection, idp, admin_client, org):
    from django.urls import reverse

    from orgwarden.sso.tests.test_signin import continue_url

    response = admin_client.post(
        reverse("console:identity_provider_test", args=[org.org_id, connection.connection_id])
    )
    request_id, _, relay_state = idp.parse_redirect(continue_url(response))
    saml_response = idp.response(
        **sp(connection),
        email="ignored",
        in_response_to=request_id,
        name_id="a1b2-c3d4-persistent",
        name_id_format=NAMEID_FORMAT_PERSISTENT,
        attributes={ENTRA_EMAIL: "ada@example.com"},
        attribute_names_as_sent=True,
    )
    response = Client().post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    page = response.content.decode()
    assert response.status_code == 200 and "Single sign-on works" in page
    assert "<dt>Email</dt><dd>ada@example.com" in page and "a1b2-c3d4-persistent" in page


@pytest.mark.parametrize(
    ("email", "warned"),
    [("ada@contoso.onmicrosoft.com", True), ("ada@example.com", False)],
    ids=["entra-upn-on-an-unlinked-domain", "linked-domain"],
)
def test_the_connection_test_warns_when_the_email_is_on_a_domain_not_linked(
    connection, idp, admin_client, org, email, warned
):
    """Entra ID's default NameID is the UPN, often on tenant.onmicrosoft.com: the response is valid,
    but every real sign-in would be refused as domain_not_linked. The test says so before enforcing."""
    AccountFactory(email="ada@example.com")  # signed in on the linked domain: nothing to warn of
    from django.urls import reverse

    from orgwarden.audit.models import AuditEvent
    from orgwarden.sso.tests.test_signin import continue_url

    response = admin_client.post(
        reverse("console:identity_provider_test", args=[org.org_id, connection.connection_id])
    )
    request_id, _, relay_state = idp.parse_redirect(continue_url(response))
    saml_response = idp.response(**sp(connection), email=email, in_response_to=request_id)
    response = Client().post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    page = response.content.decode()
    assert response.status_code == 200 and "Single sign-on works" in page
    assert ("would be refused (<code>domain_not_linked</code>)" in page) is warned
    event = AuditEvent.objects.get(action="org:idp:tested")
    assert event.details.get("warning") == ("domain_not_linked" if warned else None)


def _tested(connection, idp, admin_client, org, **sent) -> tuple[str, dict]:
    """Run "Test single sign-on" with a response carrying ``sent``: the page, and its event's details."""
    from html import unescape

    from django.urls import reverse

    from orgwarden.audit.models import AuditEvent
    from orgwarden.sso.tests.test_signin import continue_url

    response = admin_client.post(
        reverse("console:identity_provider_test", args=[org.org_id, connection.connection_id])
    )
    request_id, _, relay_state = idp.parse_redirect(continue_url(response))
    saml_response = idp.response(**sp(connection), in_response_to=request_id, **sent)
    response = Client().post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert response.status_code == 200 and b"Single sign-on works" in response.content
    event = AuditEvent.objects.filter(action="org:idp:tested").latest("occurred_at")
    text = re.sub(r"<[^>]+>", "", response.content.decode())  # the words, as a person reads them
    return " ".join(unescape(text).split()), event.details


def test_the_connection_test_says_what_a_real_sign_in_would_do(connection, idp, admin_client, org):
    """Before enforcing SSO, the admin sees whom a real sign-in would sign in, whether it would
    create an account, or why it would be refused — and the test itself changes nothing."""
    from orgwarden.sso.tests.conftest import enforce_sso

    # No account, and SSO not enforced yet: nobody would be created just in time.
    page, details = _tested(connection, idp, admin_client, org, email="new@example.com")
    assert "A real sign-in of new@example.com would be refused (no_account)" in page
    assert details["warning"] == "no_account"

    # With SSO enforced by the IdP's default policy, the same response would create the account.
    policy = enforce_sso(connection)
    page, details = _tested(connection, idp, admin_client, org, email="new@example.com")
    assert (
        "There is no account for new@example.com: it would create a managed account just in time, "
        f"in {connection.directory.name}, under the policy {policy.name}." in page
    )
    assert "warning" not in details
    assert not Account.objects.filter(email="new@example.com").exists()

    # An existing account, found by its email; then by its link to the IdP's user id.
    ada = AccountFactory(email="ada@example.com", display_name="Ada Lovelace", email_verified=True)
    page, _ = _tested(connection, idp, admin_client, org, email="ada@example.com")
    assert "It would sign in the existing account ada@example.com (Ada Lovelace), found by its email." in page
    assert not SamlIdentity.objects.filter(connection=connection).exists()
    SamlIdentity.objects.create(connection=connection, stable_id="00u-ada", account=ada)
    page, _ = _tested(connection, idp, admin_client, org, email="ada.l@example.com")
    assert "found by its link to this identity provider's user ID 00u-ada" in page

    # Deactivated: refused with the reason a real sign-in would give.
    Account.objects.filter(pk=ada.pk).update(status=Account.Status.DEACTIVATED)
    page, details = _tested(connection, idp, admin_client, org, email="ada@example.com")
    assert "would be refused (account_deactivated)" in page and details["warning"] == "account_deactivated"
