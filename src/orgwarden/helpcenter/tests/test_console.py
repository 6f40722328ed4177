"""Products → Help centers in the console: list, a help center's page (customers, search,
deactivate/reactivate/remove, authentication, IdP, certificates, metadata); another org's is a 404."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from orgwarden.audit.models import AuditEvent
from orgwarden.helpcenter import services
from orgwarden.helpcenter.tests.conftest import help_center, jsm_site
from orgwarden.sso.tests.idp import idp_metadata_xml

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple 42"


def page(org, name: str, *args) -> str:
    return reverse(f"console:{name}", args=[org.org_id, *args])


def test_list_and_site_page_link(org, admin_client, site):
    response = admin_client.get(page(org, "help_centers"))
    assert response.status_code == 200 and site.name in response.content.decode()
    site_page = admin_client.get(page(org, "product_site", site.site_id)).content.decode()
    assert page(org, "help_center", site.site_id) in site_page


@pytest.mark.parametrize("query", ["\x00", "ann\x00"])
def test_a_nul_in_the_customer_search_finds_nobody(org, admin_client, site, query):
    """PostgreSQL refuses NUL in a query (was a 500 there); no stored email or name holds one."""
    services.customer_sign_up(help_center=help_center(org, site), email="ann@a.test", password=PASSWORD)
    response = admin_client.get(page(org, "help_center", site.site_id), {"q": query})
    assert response.status_code == 200 and "ann@a.test" not in response.content.decode()


def test_customers_listed_searched_and_managed(org, admin_client, site):
    hc = help_center(org, site)
    services.customer_sign_up(help_center=hc, email="ann@a.test", password=PASSWORD)
    bob = services.customer_sign_up(help_center=help_center(org, site), email="bob@b.test", password=PASSWORD)
    body = admin_client.get(page(org, "help_center", site.site_id), {"q": "bob"}).content.decode()
    assert "bob@b.test" in body and "ann@a.test" not in body
    for action in ("deactivate", "reactivate", "remove"):
        response = admin_client.post(
            page(org, f"help_center_customer_{action}", site.site_id, bob.customer_id)
        )
        assert response.status_code == 302
    assert (
        AuditEvent.objects.filter(action__startswith="helpcenter:customer:")
        .exclude(action="helpcenter:customer:signed_up")
        .count()
        == 3
    )
    assert help_center(org, site).customers.count() == 1


def test_authentication_rules_are_form_errors(org, admin_client, site):
    response = admin_client.post(page(org, "help_center_authentication", site.site_id), {})
    assert response.status_code == 400 and "At least one way to sign in" in response.content.decode()
    response = admin_client.post(page(org, "help_center_authentication", site.site_id), {"sso_enabled": "on"})
    assert response.status_code == 400 and "Connect the identity provider" in response.content.decode()
    assert not AuditEvent.objects.filter(action="helpcenter:authentication:updated").exists()


def test_idp_configuration_screens(org, admin_client, site, customer_idp_keys):
    response = admin_client.post(
        page(org, "help_center_idp", site.site_id),
        {"idp_entity_id": "https://idp.test/", "idp_sso_url": "http://x"},
    )
    assert response.status_code == 400
    response = admin_client.post(
        page(org, "help_center_metadata", site.site_id), {"xml": idp_metadata_xml(customer_idp_keys)}
    )
    assert response.status_code == 302
    hc = help_center(org, site)
    assert hc.is_configured and hc.certificates.count() == 1
    body = admin_client.get(page(org, "help_center", site.site_id)).content.decode()
    assert f"/helpcenter/{site.site_id}/saml/acs" in body
    certificate = hc.certificates.get()
    response = admin_client.post(
        page(org, "help_center_certificate_remove", site.site_id, certificate.certificate_id)
    )
    assert response.status_code == 302 and not hc.certificates.exists()
    response = admin_client.post(page(org, "help_center_certificate_add", site.site_id), {"pem": "nope"})
    assert response.status_code == 400
    # Nothing to test without a certificate.
    response = admin_client.post(page(org, "help_center_test", site.site_id))
    assert response.status_code == 302


def test_another_orgs_help_center_is_a_404(org, other_org_admin, site):
    from django.test import Client

    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    other = other_org_admin.org
    assert client.get(page(other, "help_center", site.site_id)).status_code == 404
    assert client.post(page(other, "help_center_authentication", site.site_id), {}).status_code == 404
    assert client.get(page(org, "help_center", site.site_id)).status_code == 404


def test_a_customer_removed_twice_says_so_and_records_it_once(org, admin_client, site, other_org_admin):
    """The second removal answered a 404 page; it says the customer was removed already now."""
    from django.test import Client

    bob = services.customer_sign_up(help_center=help_center(org, site), email="bob@b.test", password=PASSWORD)
    remove = page(org, "help_center_customer_remove", site.site_id, bob.customer_id)
    assert admin_client.post(remove).status_code == 302
    again = admin_client.post(remove, follow=True)
    assert again.status_code == 200 and "bob@b.test was removed already." in again.content.decode()
    assert AuditEvent.objects.filter(action="helpcenter:customer:removed").count() == 1
    deactivate = page(org, "help_center_customer_deactivate", site.site_id, bob.customer_id)
    assert admin_client.post(deactivate).status_code == 404  # not a removal: gone is gone
    # Another org's customer, removed by that org: in its log, not this one's — still a 404 here.
    theirs = jsm_site(other_org_admin.org, other_org_admin.account, "Their Support", "https://s.other.test")
    carol = services.customer_sign_up(
        help_center=help_center(other_org_admin.org, theirs), email="carol@c.test", password=PASSWORD
    )
    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    their_remove = page(other_org_admin.org, "help_center_customer_remove", theirs.site_id, carol.customer_id)
    assert client.post(their_remove).status_code == 302
    assert (
        admin_client.post(
            page(org, "help_center_customer_remove", site.site_id, carol.customer_id)
        ).status_code
        == 404
    )


def test_a_certificate_removed_twice_says_so_and_another_ones_is_a_404(
    org, admin_client, site, other_site, customer_idp_keys
):
    """The removal's event names the certificate by its id: the second answer says it went; a
    certificate that is not this help center's (another one's, or another org's) is a 404."""
    admin_client.post(
        page(org, "help_center_metadata", site.site_id), {"xml": idp_metadata_xml(customer_idp_keys)}
    )
    certificate = help_center(org, site).certificates.get()
    remove = page(org, "help_center_certificate_remove", site.site_id, certificate.certificate_id)
    assert admin_client.post(remove).status_code == 302
    again = admin_client.post(remove, follow=True)
    assert again.status_code == 200
    assert (
        f"The certificate {certificate.subject} was removed from {site.name} already."
        in again.content.decode()
    )
    assert AuditEvent.objects.filter(action="helpcenter:idp:certificate_removed").count() == 1
    elsewhere = page(org, "help_center_certificate_remove", other_site.site_id, certificate.certificate_id)
    assert admin_client.post(elsewhere).status_code == 404
    assert admin_client.get(elsewhere).status_code == 404


def _form_of(text: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))


def test_removing_a_customer_asks_first(org, admin_client, site, other_org_admin):
    """It deletes their portal account: "Remove…" opens a confirmation that says so and changes
    nothing; only its button removes. Deactivating still acts at once (Reactivate undoes it)."""
    bob = services.customer_sign_up(help_center=help_center(org, site), email="bob@b.test", password=PASSWORD)
    remove = page(org, "help_center_customer_remove", site.site_id, bob.customer_id)
    body = admin_client.get(page(org, "help_center", site.site_id)).content.decode()
    assert f'href="{remove}">Remove<span class="sr-only"> bob@b.test</span>…</a>' in body
    assert f'action="{remove}"' not in body
    assert f'action="{page(org, "help_center_customer_deactivate", site.site_id, bob.customer_id)}"' in body
    events = AuditEvent.objects.count()

    confirm = admin_client.get(remove)
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Remove the customer bob@b.test?" in text
    assert f"Their account on {site.name}'s portal is deleted now" in text and "This cannot be undone" in text
    assert (
        help_center(org, site).customers.filter(pk=bob.pk).exists() and AuditEvent.objects.count() == events
    )

    done = admin_client.post(remove, _form_of(text), follow=True)
    assert "Customer removed." in done.content.decode()
    assert not help_center(org, site).customers.exists()
    stale = admin_client.get(remove, follow=True)  # opened again: removed already
    assert "bob@b.test was removed already." in stale.content.decode()
    assert AuditEvent.objects.filter(action="helpcenter:customer:removed").count() == 1
    theirs = jsm_site(other_org_admin.org, other_org_admin.account, "Their Support", "https://s.other.test")
    carol = services.customer_sign_up(
        help_center=help_center(other_org_admin.org, theirs), email="carol@c.test", password=PASSWORD
    )
    assert (
        admin_client.get(
            page(org, "help_center_customer_remove", site.site_id, carol.customer_id)
        ).status_code
        == 404
    )
    assert (
        admin_client.get(
            page(org, "help_center_customer_remove", theirs.site_id, carol.customer_id)
        ).status_code
        == 404
    )
    assert (
        admin_client.get(page(org, "help_center_customer_deactivate", site.site_id, "x")).status_code == 405
    )


def test_removing_a_certificate_asks_first(org, admin_client, site, customer_idp_keys):
    admin_client.post(
        page(org, "help_center_metadata", site.site_id), {"xml": idp_metadata_xml(customer_idp_keys)}
    )
    certificate = help_center(org, site).certificates.get()
    remove = page(org, "help_center_certificate_remove", site.site_id, certificate.certificate_id)
    body = admin_client.get(page(org, "help_center", site.site_id)).content.decode()
    assert (
        f'href="{remove}">Remove<span class="sr-only"> certificate {certificate.subject}</span>…</a>' in body
    )
    events = AuditEvent.objects.count()

    confirm = admin_client.get(remove)
    text = unescape(confirm.content.decode())
    assert (
        confirm.status_code == 200
        and f"Remove the certificate {certificate.subject} from {site.name}?" in text
    )
    assert f"Single sign-on is off, so no sign-in to {site.name}'s portal changes now." in text
    assert help_center(org, site).certificates.exists() and AuditEvent.objects.count() == events
    done = admin_client.post(remove, _form_of(text), follow=True)
    assert (
        "Certificate removed." in done.content.decode() and not help_center(org, site).certificates.exists()
    )
    stale = admin_client.get(remove, follow=True)
    assert (
        f"The certificate {certificate.subject} was removed from {site.name} already."
        in stale.content.decode()
    )
    assert AuditEvent.objects.filter(action="helpcenter:idp:certificate_removed").count() == 1


def test_the_only_certificate_of_a_help_center_with_sso_on_is_refused_before_asking(
    org, admin_client, site, customer_idp_keys
):
    admin_client.post(
        page(org, "help_center_metadata", site.site_id), {"xml": idp_metadata_xml(customer_idp_keys)}
    )
    hc = help_center(org, site)
    type(hc).objects.filter(pk=hc.pk).update(sso_enabled=True)
    certificate = hc.certificates.get()
    refused = admin_client.get(
        page(org, "help_center_certificate_remove", site.site_id, certificate.certificate_id), follow=True
    )
    assert refused.redirect_chain == [(page(org, "help_center", site.site_id), 302)]
    assert (
        "Single sign-on is on: keep at least one certificate, or turn SSO off first."
        in refused.content.decode()
    )
    assert hc.certificates.exists()
