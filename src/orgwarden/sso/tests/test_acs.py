"""The SP endpoints end to end with a real IdP (pysaml2 + xmlsec1): SP- and IdP-initiated sign-in,
RelayState, replay, matching by stable id, just-in-time accounts, test mode, and refusals with
their reason in the audit log."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import OrgUser
from orgwarden.sso.models import SamlIdentity, SamlRequest
from orgwarden.sso.tests.conftest import enforce_sso, verified_domain
from orgwarden.sso.tests.idp import IDP_SSO_URL, inflate_request
from orgwarden.sso.tests.test_signin import continue_url

pytestmark = pytest.mark.django_db


def acs(connection) -> str:
    return reverse("sso:acs", args=[connection.connection_id])


def sp(connection) -> dict:
    return {
        "sp_entity_id": f"http://testserver/saml/{connection.connection_id}",
        "acs_url": f"http://testserver/saml/{connection.connection_id}/acs",
    }


def signed_in_as(client: Client):
    return client.session.get("_auth_user_id")


def sso_failures(reason: str):
    return AuditEvent.objects.filter(action="account:signin:sso_failed", details__reason=reason)


def start(client: Client, connection, next_url: str = "/account/") -> tuple[str, str]:
    response = client.get(reverse("sso:login", args=[connection.connection_id]), {"next": next_url})
    assert response.status_code == 302 and response["Location"].startswith(IDP_SSO_URL)
    return response["Location"], next_url


@pytest.mark.parametrize(
    ("sign_response", "sign_assertion"),
    [(False, True), (True, False), (True, True)],
    ids=["okta", "entra", "both"],
)
def test_sp_initiated_sign_in(connection, idp, sign_response, sign_assertion):
    account = AccountFactory(email="ada@example.com", display_name="ada")
    client = Client()
    url, _ = start(client, connection)
    request_id, acs_url, relay_state = idp.parse_redirect(url)
    assert acs_url == sp(connection)["acs_url"]
    assert b"<saml:Issuer>http://testserver/saml/" in inflate_request(url)
    saml_response = idp.response(
        **sp(connection),
        email="ada@example.com",
        in_response_to=request_id,
        sign_response=sign_response,
        sign_assertion=sign_assertion,
    )
    response = client.post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert signed_in_as(client) == str(account.pk)
    account.refresh_from_db()
    assert account.display_name == "Ada Lovelace"
    assert SamlIdentity.objects.get(connection=connection).stable_id == "00u-ada"
    event = AuditEvent.objects.get(action="account:signin:succeeded")
    assert event.details["method"] == "sso"
    assert SamlRequest.objects.get(request_id=request_id).used_at is not None


def test_idp_initiated_relay_state_is_a_local_path_only(connection, idp):
    AccountFactory(email="ada@example.com")
    client = Client()
    response = client.post(
        acs(connection),
        {
            "SAMLResponse": idp.response(**sp(connection), email="ada@example.com"),
            "RelayState": "https://evil.test/",
        },
    )
    assert response.status_code == 302 and "evil" not in response["Location"]
    response = Client().post(
        acs(connection),
        {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com"), "RelayState": "/account/"},
    )
    assert response["Location"] == "/account/"


def test_replayed_response_is_refused_with_its_reason(connection, idp):
    AccountFactory(email="ada@example.com")
    saml_response = idp.response(**sp(connection), email="ada@example.com")
    assert Client().post(acs(connection), {"SAMLResponse": saml_response}).status_code == 302
    response = Client().post(acs(connection), {"SAMLResponse": saml_response})
    assert response.status_code == 400 and b"replayed" in response.content
    assert sso_failures("replayed").get().org_id == connection.org.org_id


def test_tampered_response_is_refused_and_audited(connection, idp):
    import base64

    AccountFactory(email="ada@example.com")
    AccountFactory(email="boss@example.com")
    xml = base64.b64decode(idp.response(**sp(connection), email="ada@example.com"))
    forged = base64.b64encode(xml.replace(b"ada@example.com", b"boss@example.com")).decode()
    client = Client()
    response = client.post(acs(connection), {"SAMLResponse": forged})
    assert response.status_code == 400 and b"signature_invalid" in response.content
    assert signed_in_as(client) is None
    assert sso_failures("signature_invalid").exists()


def test_unsolicited_in_response_to_is_refused(connection, idp):
    AccountFactory(email="ada@example.com")
    saml_response = idp.response(**sp(connection), email="ada@example.com", in_response_to="_not_ours")
    response = Client().post(acs(connection), {"SAMLResponse": saml_response})
    assert response.status_code == 400 and sso_failures("unsolicited_response").exists()


def test_idp_initiated_refused_when_the_connection_disallows_it(connection, idp):
    connection.allow_idp_initiated = False
    connection.save()
    AccountFactory(email="ada@example.com")
    response = Client().post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com")}
    )
    assert response.status_code == 400 and sso_failures("idp_initiated_disabled").exists()


def test_stable_id_is_matched_before_email(connection, idp):
    account = AccountFactory(email="ada@example.com")
    Client().post(acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com")})
    # The IdP renamed her; the stable id still names the same person: no second account.
    client = Client()
    client.post(acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ada.l@example.com")})
    assert signed_in_as(client) == str(account.pk)
    assert not Account.objects.filter(email="ada.l@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_sign_ins_of_one_person_at_once_both_sign_in(connection, idp):
    """Two tabs finish a first SSO sign-in at once: the second's identity link waits for the first's
    (PostgreSQL) and fails on the unique id; it uses that link, as if it came second, not a 500."""
    from orgwarden.testing.races import behind_an_open_transaction

    account = AccountFactory(email="ada@example.com")
    client = Client()
    saml_response = idp.response(**sp(connection), email="ada@example.com")
    response = behind_an_open_transaction(
        lambda: SamlIdentity.objects.create(connection=connection, stable_id="00u-ada", account=account),
        lambda: client.post(acs(connection), {"SAMLResponse": saml_response}),
    )
    assert response.status_code == 302 and signed_in_as(client) == str(account.pk)
    identity = SamlIdentity.objects.get(connection=connection)
    assert identity.account == account and identity.last_signin_at is not None


def test_an_idp_speaks_only_for_its_linked_domains(connection, idp):
    AccountFactory(email="ceo@elsewhere.com", display_name="Carol CEO")
    client = Client()
    response = client.post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ceo@elsewhere.com")}
    )
    assert response.status_code == 400 and signed_in_as(client) is None
    # The org's log names only the address its IdP sent: an account of no concern to this org (its
    # id, its name) is not looked up for it.
    [refused] = sso_failures("domain_not_linked")
    assert (refused.actor_type, refused.actor_id, refused.actor_email) == (
        "anonymous",
        "",
        "ceo@elsewhere.com",
    )
    assert "Carol" not in str(refused.actor_name)


def test_no_account_and_no_jit_is_refused(connection, idp):
    response = Client().post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="new@example.com")}
    )
    assert response.status_code == 400 and sso_failures("no_account").exists()
    assert not Account.objects.filter(email="new@example.com").exists()


def test_just_in_time_account_when_policy_enforces_sso_on_an_automatic_domain(connection, idp):
    enforce_sso(connection)
    client = Client()
    response = client.post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="new@example.com")}
    )
    # A new managed account is first told who manages it, then signed in.
    assert response.status_code == 302 and response["Location"] == "/login/step/managed_notice"
    client.post(response["Location"])
    account = Account.objects.get(email="new@example.com")
    assert signed_in_as(client) == str(account.pk) and account.display_name == "Ada Lovelace"
    org_user = OrgUser.objects.get(account=account)
    assert (
        org_user.is_managed and org_user.directory == connection.directory and org_user.org == connection.org
    )
    assert not account.group_memberships.exists()
    assert AuditEvent.objects.get(action="account:created_jit").org_id == connection.org.org_id


@pytest.mark.parametrize(
    "email",
    [
        "p\u0430t@example.com",  # a Cyrillic a: a look-alike of pat@example.com
        "pat@two@example.com",  # the processor's check splits at the first @ only
        "'\"<>@example.com",
        "pat..x@example.com",
    ],
)
def test_no_just_in_time_account_for_an_address_no_account_may_have(connection, idp, email):
    """The processor checks only the NameID's shape; an account is created only for an address
    sign-up, SCIM and invitations would take (was created as sent)."""
    enforce_sso(connection)
    client = Client()
    response = client.post(acs(connection), {"SAMLResponse": idp.response(**sp(connection), email=email)})
    assert response.status_code == 400 and b"name_id_invalid" in response.content
    assert sso_failures("name_id_invalid").exists() and signed_in_as(client) is None
    assert not Account.objects.filter(email=email.lower()).exists()
    assert not AuditEvent.objects.filter(action="account:created_jit").exists()


@pytest.mark.django_db(transaction=True)
def test_just_in_time_racing_a_sign_up_of_the_same_email_signs_that_account_in(connection, idp):
    """The person signs up (or SCIM provisions them) while their first SSO sign-in creates the
    account: the JIT insert waits for the other (PostgreSQL) and fails on the unique email; the
    sign-in goes on with the account that won, as if it had been there first, instead of a 500."""
    from orgwarden.accounts.services import account_create
    from orgwarden.testing.races import behind_an_open_transaction

    enforce_sso(connection)
    client = Client()
    saml_response = idp.response(**sp(connection), email="new@example.com")
    response = behind_an_open_transaction(
        lambda: account_create(email="new@example.com", display_name="Signed Up", password=None),
        lambda: client.post(acs(connection), {"SAMLResponse": saml_response}),
    )
    assert response.status_code == 302 and response["Location"] == "/login/step/managed_notice"
    account = Account.objects.get(email="new@example.com")
    assert SamlIdentity.objects.get(connection=connection).account == account
    assert not AuditEvent.objects.filter(action="account:created_jit").exists()  # the sign-up created it


def test_no_jit_on_a_manually_claimed_domain(connection, idp, org, org_admin):
    from orgwarden.sso import services

    enforce_sso(connection)
    manual = verified_domain(org, "manual.com", automatic=False)
    services.idp_domain_link(
        org=org, actor=org_admin.account, connection_id=connection.connection_id, domain_id=manual.domain_id
    )
    response = Client().post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="x@manual.com")}
    )
    assert response.status_code == 400 and sso_failures("no_account").exists()


def test_deactivated_account_is_refused(connection, idp):
    AccountFactory(email="ada@example.com", status=Account.Status.DEACTIVATED)
    response = Client().post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com")}
    )
    assert response.status_code == 400 and sso_failures("account_deactivated").exists()


def test_test_mode_shows_attributes_and_signs_nobody_in(connection, idp, admin_client, org):
    AccountFactory(email="ada@example.com")
    response = admin_client.post(
        reverse("console:identity_provider_test", args=[org.org_id, connection.connection_id])
    )
    request_id, _, relay_state = idp.parse_redirect(continue_url(response))
    idp_browser = Client()  # the IdP's cross-site POST carries no session cookie (SameSite=Lax)
    saml_response = idp.response(**sp(connection), email="ada@example.com", in_response_to=request_id)
    response = idp_browser.post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert response.status_code == 200
    assert b"Single sign-on works" in response.content and b"00u-ada" in response.content
    assert signed_in_as(idp_browser) is None
    event = AuditEvent.objects.get(action="org:idp:tested")
    assert event.details["outcome"] == "ok" and event.org_id == org.org_id


def test_test_mode_failure_shows_the_exact_reason(connection, idp, admin_client, org):
    response = admin_client.post(
        reverse("console:identity_provider_test", args=[org.org_id, connection.connection_id])
    )
    request_id, _, relay_state = idp.parse_redirect(continue_url(response))
    wrong = {**sp(connection), "sp_entity_id": "https://someone-else.test"}
    saml_response = idp.response(**wrong, email="ada@example.com", in_response_to=request_id)
    response = Client().post(acs(connection), {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert response.status_code == 400
    assert b"test failed" in response.content and b"wrong_audience" in response.content
    assert AuditEvent.objects.get(action="org:idp:tested").details["reason"] == "wrong_audience"


def test_endpoints_of_an_unknown_connection_are_404_and_acs_is_post_only(connection):
    client = Client()
    assert client.get("/saml/nope/metadata").status_code == 404
    assert client.post("/saml/nope/acs", {"SAMLResponse": "x"}).status_code == 404
    assert client.get(acs(connection)).status_code == 405
    response = client.post(acs(connection), {"SAMLResponse": "!!!"})
    assert response.status_code == 400 and b"malformed_xml" in response.content


@pytest.mark.parametrize("relay_state", ["\x00", "_abc\x00def", "/account/\x00"])
def test_a_nul_in_the_relay_state_is_a_failure_page_not_a_500(connection, idp, relay_state):
    """PostgreSQL refuses NUL in text: the test-mode lookup of the RelayState must not send it."""
    response = Client().post(acs(connection), {"SAMLResponse": "!!!", "RelayState": relay_state})
    assert response.status_code == 400 and b"malformed_xml" in response.content
    assert sso_failures("malformed_xml").exists()
    AccountFactory(email="ada@example.com")
    client = Client()
    response = client.post(
        acs(connection),
        {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com"), "RelayState": relay_state},
    )
    assert response.status_code == 302 and "\x00" not in response["Location"]
    assert "evil" not in response["Location"]


def test_metadata_endpoint(connection):
    response = Client().get(reverse("sso:metadata", args=[connection.connection_id]), {"download": "1"})
    assert response.status_code == 200 and response["Content-Type"] == "application/samlmetadata+xml"
    assert "attachment" in response["Content-Disposition"]
    assert Client().get(reverse("sso:entity", args=[connection.connection_id])).status_code == 200


def test_idp_initiated_relay_state_may_name_one_of_the_orgs_product_sites(connection, idp, other_org_admin):
    from orgwarden.orgs.models import Group, GroupMember, ProductSite, SiteAccess

    ada = AccountFactory(email="ada@example.com")
    site = ProductSite.objects.create(
        org=connection.org, product="confluence", name="Wiki", url="https://wiki.example.com"
    )
    foreign = ProductSite.objects.create(
        org=other_org_admin.org, product="confluence", name="Theirs", url="https://theirs.example.com"
    )
    group = Group.objects.create(org=connection.org, name="Wiki users")
    SiteAccess.objects.create(site=site, group=group, role="user")
    GroupMember.objects.create(group=group, account=ada)

    client = Client()
    response = client.post(
        acs(connection),
        {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com"), "RelayState": site.site_id},
    )
    assert response.status_code == 302 and response["Location"] == f"/launch/{site.site_id}"
    launched = client.get(response["Location"])
    assert launched.status_code == 302 and launched["Location"] == "https://wiki.example.com"

    # Another org's site is not a destination: the person lands on orgwarden instead.
    response = Client().post(
        acs(connection),
        {
            "SAMLResponse": idp.response(**sp(connection), email="ada@example.com"),
            "RelayState": foreign.site_id,
        },
    )
    assert response.status_code == 302 and foreign.site_id not in response["Location"]


def test_launching_a_site_without_access_says_so(connection, idp):
    from orgwarden.orgs.models import ProductSite

    AccountFactory(email="ada@example.com")
    site = ProductSite.objects.create(
        org=connection.org, product="confluence", name="Wiki", url="https://wiki.example.com"
    )
    client = Client()
    client.post(
        acs(connection),
        {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com"), "RelayState": site.site_id},
    )
    denied = client.get(f"/launch/{site.site_id}")
    assert denied.status_code == 403 and b"have access to Wiki" in denied.content
    assert client.get("/launch/nosuchsite").status_code == 404
