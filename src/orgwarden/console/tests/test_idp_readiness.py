"""An identity provider is "Configured", and offers "Test single sign-on", only once it has what a
sign-in needs: the IdP's entity ID, its SSO URL and a signing certificate. Before, an IdP with no
certificate read "Configured" while every response from it would be refused, and the test button
answered with an error banner instead of saying beforehand what was missing."""

from __future__ import annotations

import lxml.html
import pytest
from django.urls import reverse

from orgwarden.sso import services
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, IDP_SSO_URL, make_key_pair

pytestmark = pytest.mark.django_db


def _state(admin_client, org, connection) -> tuple[str, str, str, bool]:
    """The list's badge, the page's badge, the sentence that says what the test button needs, and
    whether the button can be pressed."""
    listed = admin_client.get(reverse("console:identity_providers", args=[org.org_id])).content
    detail = reverse("console:identity_provider", args=[org.org_id, connection.connection_id])
    page = lxml.html.fromstring(admin_client.get(detail).content)
    [button] = page.xpath("//button[normalize-space()='Test single sign-on']")
    described_by = button.get("aria-describedby")
    needs = page.get_element_by_id(described_by).text_content() if described_by else ""
    return (
        lxml.html.fromstring(listed).xpath("string(//tbody//*[contains(@class, 'badge')])"),
        page.xpath("string(//h1/*[contains(@class, 'badge')])"),
        needs,
        button.get("disabled") is None,
    )


def test_configured_only_with_entity_id_sso_url_and_a_certificate(admin_client, org, org_admin):
    connection = services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta")
    missing = (
        "To test single sign-on, enter the identity provider's entity ID, SSO URL and certificate below."
    )
    assert _state(admin_client, org, connection) == ("Not configured", "Not configured", missing, False)

    services.idp_update(
        org=org,
        actor=org_admin.account,
        connection_id=connection.connection_id,
        idp_entity_id=IDP_ENTITY_ID,
        idp_sso_url=IDP_SSO_URL,
    )
    assert _state(admin_client, org, connection) == ("Not configured", "Not configured", missing, False)

    services.idp_certificate_add(
        org=org, actor=org_admin.account, connection_id=connection.connection_id, pem=make_key_pair().cert_pem
    )
    assert _state(admin_client, org, connection) == ("Configured", "Configured", "", True)
