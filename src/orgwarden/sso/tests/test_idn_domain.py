"""An identity provider on an internationalized domain (müller.de, verified as xn--mller-kva.de):
its people are found whichever form of the address reaches us — typed at sign-in, or in a NameID —
and an admin testing it reads the address in Unicode."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.orgs.models import OrgUser
from orgwarden.sso import selectors
from orgwarden.sso.tests.conftest import enforce_sso, verified_domain
from orgwarden.sso.tests.test_acs import acs, sp
from orgwarden.sso.tests.test_signin import continue_url

pytestmark = pytest.mark.django_db

ASCII = "xn--mller-kva.de"


@pytest.fixture
def domain(org):
    return verified_domain(org, ASCII)  # as domain_name_clean stores "müller.de"


def test_sign_in_with_the_unicode_address_finds_the_domains_idp(connection):
    assert selectors.connection_for_email("Anna@Müller.de") == connection
    enforce_sso(connection)
    first = Client().post("/login", {"email": "Anna@Müller.de"})
    assert first.status_code == 302 and first["Location"] == "/login/step/sso"  # to the IdP, no password


def test_a_unicode_name_id_makes_one_account_in_the_domains_form(connection, idp):
    enforce_sso(connection)
    client = Client()
    saml_response = idp.response(**sp(connection), email="anna@müller.de")
    response = client.post(acs(connection), {"SAMLResponse": saml_response})
    assert response.status_code == 302, response.content[:500]
    account = Account.objects.get(email__endswith=".de")  # (the org's admin is on example.com)
    assert account.email == f"anna@{ASCII}"
    assert OrgUser.objects.get(account=account).is_managed


def test_the_test_result_shows_the_name_id_in_unicode_and_as_sent(connection, idp, admin_client, org):
    response = admin_client.post(
        reverse("console:identity_provider_test", args=[org.org_id, connection.connection_id])
    )
    request_id, _, relay_state = idp.parse_redirect(continue_url(response))
    saml_response = idp.response(**sp(connection), email=f"anna@{ASCII}", in_response_to=request_id)
    page = Client().post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert page.status_code == 200
    sent_as = f'<span class="muted small">(sent as <code>anna@{ASCII}</code>)</span>'
    assert f"<dd>anna@müller.de {sent_as}</dd>" in page.content.decode()
