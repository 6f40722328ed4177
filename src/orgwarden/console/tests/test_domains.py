"""Directory → Domains through the console's real views, with real DNS and HTTPS peers on loopback."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.services import claims
from orgwarden.orgs.tests import conftest as peers

# The real DNS and HTTPS peers (session-scoped servers, per-test reset) from the orgs tests.
dns_server, https_server, proof_peers = peers.dns_server, peers.https_server, peers.proof_peers

pytestmark = pytest.mark.django_db


def url(org, suffix: str = "") -> str:
    return f"/admin/o/{org.org_id}/domains/{suffix}"


def add(client: Client, org, name: str = "acme.test") -> Domain:
    response = client.post(url(org), {"name": name})
    assert response.status_code == 302, response.content.decode()[:2000]
    domain = Domain.objects.get(org=org, name=name.strip().lower())
    assert response["Location"] == url(org, f"{domain.domain_id}/")
    return domain


def verify(client: Client, org, domain: Domain, method: str = "dns"):
    return client.post(url(org, f"{domain.domain_id}/verify"), {"method": method}, follow=True)


@pytest.fixture
def other_client(other_org_admin) -> Client:
    client = Client()
    client.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


def test_domains_page_is_in_the_navigation_and_lists_domains(admin_client, org):
    page = admin_client.get(url(org))
    assert page.status_code == 200
    assert f'href="{url(org)}"'.encode() in page.content and b'aria-current="page"' in page.content
    add(admin_client, org)
    page = admin_client.get(url(org))
    assert b"acme.test" in page.content and b"Unverified" in page.content


def test_adding_shows_the_token_and_both_proofs(admin_client, org):
    domain = add(admin_client, org, "  Acme.TEST ")
    page = admin_client.get(url(org, f"{domain.domain_id}/"))
    text = page.content.decode()
    assert page.status_code == 200
    assert f"readonly>orgwarden-domain-verification={domain.token}</textarea>" in text
    assert "readonly>https://acme.test/orgwarden-domain-verification.html</textarea>" in text
    assert f"readonly>{domain.token}</textarea>" in text
    assert "style=" not in text and "<script>" not in text
    assert AuditEvent.objects.filter(action="org:domain:added", org_id=org.org_id).count() == 1


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "This field is required"),
        ("localhost", "with a dot"),
        ("10.0.0.1", "not an IP address"),
        ("bad_name.test", "not a valid domain name"),
        ("x" * 301, "at most 300 characters"),
        ("ann@acme.test", "domain name only"),
        ("gmail.com", "public mail domain"),
    ],
)
def test_bad_names_are_form_errors_with_400(admin_client, org, name, words):
    response = admin_client.post(url(org), {"name": name})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Domain.objects.exists() and not AuditEvent.objects.filter(action="org:domain:added").exists()


def test_adding_twice_is_a_form_error(admin_client, org):
    add(admin_client, org)
    response = admin_client.post(url(org), {"name": "ACME.test"})
    assert response.status_code == 400 and b"already one of your domains" in response.content


def test_verify_by_dns_then_https_failure_message(admin_client, org, proof_peers):
    domain = add(admin_client, org)
    response = verify(admin_client, org, domain)
    page = response.content.decode()
    assert "acme.test is not verified yet." in page
    assert page.count("No TXT record was found at acme.test.") == 1  # in the Last check notice only
    proof_peers.publish_txt("acme.test", domain.token)
    response = verify(admin_client, org, domain)
    assert b"acme.test is verified" in response.content
    domain.refresh_from_db()
    assert domain.status == "verified"
    response = verify(admin_client, org, domain, "https")
    assert b"acme.test stays verified, but its HTTPS file was not found." in response.content
    assert response.content.count(b"has no address") == 1  # in the page's notice, not twice


def test_a_verified_domain_offers_to_check_its_proofs_not_to_verify_it(admin_client, org, proof_peers):
    """Once verified, the proofs are what to keep published; their buttons check them now."""
    domain = add(admin_client, org)
    page = admin_client.get(url(org, f"{domain.domain_id}/")).content.decode()
    assert (
        "Verify with DNS" in page and "Verify with HTTPS" in page and "Check the DNS record now" not in page
    )
    proof_peers.publish_txt("acme.test", domain.token)
    verify(admin_client, org, domain)
    page = admin_client.get(url(org, f"{domain.domain_id}/")).content.decode()
    assert "Verify with DNS" not in page and "Verify with HTTPS" not in page
    assert "Check the DNS record now" in page and "Check the HTTPS file now" in page
    assert "Keep one of these proofs published" in page
    response = verify(admin_client, org, domain)
    assert b"acme.test&#x27;s DNS record is in place. It stays verified." in response.content


def test_verify_by_https(admin_client, org, proof_peers):
    domain = add(admin_client, org)
    proof_peers.publish_file("acme.test", domain.token)
    response = verify(admin_client, org, domain, "https")
    assert b"acme.test is verified" in response.content


def test_verify_with_a_bad_method_is_a_400(admin_client, org):
    domain = add(admin_client, org)
    response = admin_client.post(url(org, f"{domain.domain_id}/verify"), {"method": "carrier-pigeon"})
    assert response.status_code == 400 and b"Choose how to verify" in response.content
    assert not AuditEvent.objects.filter(action__startswith="org:domain:verif").exists()


def test_claim_automatic_then_review_and_claim_by_hand(admin_client, org, proof_peers):
    domain = add(admin_client, org)
    proof_peers.publish_txt("acme.test", domain.token)
    verify(admin_client, org, domain)
    ann = AccountFactory(email="ann@acme.test")
    response = admin_client.post(url(org, f"{domain.domain_id}/claim"), {"claim": "automatic"}, follow=True)
    assert b"1 claimed now" in response.content
    assert OrgUser.objects.get(account=ann).is_managed
    admin_client.post(url(org, f"{domain.domain_id}/claim"), {"claim": "manual"})
    bob = AccountFactory(email="bob@acme.test", display_name="Bob Builder")
    cat = AccountFactory(email="cat@acme.test")
    page = admin_client.get(url(org, f"{domain.domain_id}/accounts/"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "bob@acme.test" in text and "cat@acme.test" in text and "ann@acme.test" not in text
    found = admin_client.get(url(org, f"{domain.domain_id}/accounts/"), {"q": "builder"})
    assert b"bob@acme.test" in found.content and b"cat@acme.test" not in found.content
    empty = admin_client.post(url(org, f"{domain.domain_id}/accounts/"), {})
    assert empty.status_code == 400 and b"Select at least one account" in empty.content
    forged = admin_client.post(url(org, f"{domain.domain_id}/accounts/"), {"account": ["x" * 40]})
    assert forged.status_code == 400
    response = admin_client.post(
        url(org, f"{domain.domain_id}/accounts/"), {"account": [bob.account_id]}, follow=True
    )
    assert b"1 account claimed" in response.content
    assert OrgUser.objects.get(account=bob).is_managed and not OrgUser.objects.filter(account=cat).exists()


def test_review_pages_by_email(admin_client, org):
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    for i in range(55):
        AccountFactory(email=f"p{i:02d}@acme.test")
    first = admin_client.get(url(org, f"{domain.domain_id}/accounts/"))
    assert b"p49@acme.test" in first.content and b"p50@acme.test" not in first.content
    assert b"after=p49%40acme.test" in first.content
    second = admin_client.get(url(org, f"{domain.domain_id}/accounts/"), {"after": "p49@acme.test"})
    assert b"p50@acme.test" in second.content and b"p49@acme.test" not in second.content
    bad = admin_client.get(url(org, f"{domain.domain_id}/accounts/"), {"after": "not an email"})
    assert bad.status_code == 400


def test_review_pages_keep_the_search(admin_client, org):
    """The shared pager: "Next →" and "← First page" keep the search and change only the cursor."""
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    for i in range(55):
        AccountFactory(email=f"p{i:02d}@acme.test", display_name=f"Pat {i}")
        AccountFactory(email=f"q{i:02d}@acme.test", display_name=f"Quinn {i}")
    review = url(org, f"{domain.domain_id}/accounts/")
    query, seen, pages = "?q=pat", [], []
    while query:
        body = admin_client.get(review + query).content.decode()
        pages.append(body)
        seen += re.findall(r"<td>([pq]\d+@acme\.test)</td>", body)
        following = re.search(r'<a [^>]*href="(\?[^"]+)" rel="next">Next →</a>', body)
        query = unescape(following.group(1)) if following else ""
        assert not query or ("q=pat" in query and "after=" in query)
    assert seen == [f"p{i:02d}@acme.test" for i in range(55)] and len(pages) == 2
    assert "← First page" not in pages[0]
    assert re.search(r'<a [^>]*href="\?q=pat">← First page</a>', pages[1])


def test_claim_errors_are_400s_with_the_reason(admin_client, org, other_org_admin):
    unverified = add(admin_client, org, "beta.test")
    response = admin_client.post(url(org, f"{unverified.domain_id}/claim"), {"claim": "automatic"})
    assert response.status_code == 400 and b"Verify this domain first" in response.content
    mine = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    Domain.objects.create(
        org=other_org_admin.org,
        name="acme.test",
        token="u",
        status="verified",
        method="dns",
        claim="automatic",
    )
    response = admin_client.post(url(org, f"{mine.domain_id}/claim"), {"claim": "automatic"})
    assert response.status_code == 400
    assert b"Another organization already claims acme.test automatically." in response.content
    response = admin_client.post(url(org, f"{mine.domain_id}/claim"), {"claim": "sometimes"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="org:domain:claim_changed").exists()


def test_remove_releases_and_redirects(admin_client, org):
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    ann = AccountFactory(email="ann@acme.test")
    claims.account_claim(org=org, account=ann, domain=domain, actor=claims.Actor.system())
    response = admin_client.post(url(org, f"{domain.domain_id}/remove"), follow=True)
    assert b"acme.test removed. 1 account(s) claimed through it are no longer managed." in response.content
    assert not Domain.objects.exists() and not OrgUser.objects.get(account=ann).is_managed


def test_get_on_post_only_urls_is_refused(admin_client, org):
    domain = add(admin_client, org)
    for suffix in ("verify", "claim", "remove"):
        assert admin_client.get(url(org, f"{domain.domain_id}/{suffix}")).status_code == 405


# --- tenant isolation -----------------------------------------------------------------------------------


def test_another_orgs_admin_gets_404_everywhere(admin_client, org, other_client, other_org_admin):
    domain = add(admin_client, org)
    before = AuditEvent.objects.count()
    own_org_urls = [
        (f"/admin/o/{other_org_admin.org.org_id}/domains/{domain.domain_id}/{suffix}", method)
        for suffix, method in [
            ("", "get"),
            ("accounts/", "get"),
            ("accounts/", "post"),
            ("verify", "post"),
            ("claim", "post"),
            ("remove", "post"),
        ]
    ]
    their_org_urls = [(url(org, f"{domain.domain_id}/{suffix}"), method) for suffix, method in [("", "get")]]
    their_org_urls += [
        (url(org), "get"),
        (url(org), "post"),
        (url(org, f"{domain.domain_id}/remove"), "post"),
    ]
    data = {"method": "dns", "claim": "automatic", "account": ["abc"], "name": "zzz.test"}
    for path, method in own_org_urls + their_org_urls:
        response = getattr(other_client, method)(path, data if method == "post" else None)
        assert response.status_code == 404, (path, method, response.status_code)
    assert other_client.get(url(org, "nope%00/")).status_code == 404
    assert Domain.objects.count() == 1 and AuditEvent.objects.count() == before


def test_unknown_domain_ids_are_404(admin_client, org):
    assert admin_client.get(url(org, "doesnotexist/")).status_code == 404
    assert admin_client.post(url(org, "doesnotexist/verify"), {"method": "dns"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_an_invitation_of_the_account_claims_it_not_500(admin_client, org):
    """One admin invites bob@acme.test to a site while another claims him: the claim read no user
    row for him, and its insert waits for the invitation's (PostgreSQL), then fails on the unique
    org and account. As when the invitation came first, the claim turns his row managed; no 500."""
    from orgwarden.orgs.services import access
    from orgwarden.testing.races import behind_an_open_transaction

    admin = org.admins.first().account
    domain = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    site = access.site_add(
        org=org, actor=admin, product="confluence", name="Wiki", url="https://wiki.acme.test"
    )
    bob = AccountFactory(email="bob@acme.test")

    response = behind_an_open_transaction(
        lambda: access.user_invite(org=org, actor=admin, email=bob.email, site_ids=[site.site_id]),
        lambda: admin_client.post(url(org, f"{domain.domain_id}/accounts/"), {"account": [bob.account_id]}),
    )
    assert response.status_code == 302
    row = OrgUser.objects.get(account=bob)
    assert row.org == org and row.is_managed and row.domain == domain
    assert AuditEvent.objects.filter(action="org:account:claimed").count() == 1
    assert AuditEvent.objects.filter(action="org:user:invited").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_another_orgs_claim_of_the_account_skips_it_not_500(
    admin_client, org, other_org_admin
):
    """Both orgs verified acme.test and claim bob@acme.test at once: the second's insert waits for
    the first (PostgreSQL) and fails on "managed by one org". As when the other org came first, he
    is skipped and counted as managed by another organization; no 500."""
    from orgwarden.orgs.services.domains import accounts_claim
    from orgwarden.testing.races import behind_an_open_transaction

    mine = Domain.objects.create(org=org, name="acme.test", token="t", status="verified", method="dns")
    theirs = Domain.objects.create(
        org=other_org_admin.org, name="acme.test", token="u", status="verified", method="dns"
    )
    bob = AccountFactory(email="bob@acme.test")

    response = behind_an_open_transaction(
        lambda: accounts_claim(
            org=other_org_admin.org,
            actor=other_org_admin.account,
            domain_id=theirs.domain_id,
            account_ids=[bob.account_id],
        ),
        lambda: admin_client.post(
            url(org, f"{mine.domain_id}/accounts/"), {"account": [bob.account_id]}, follow=True
        ),
    )
    assert response.status_code == 200
    assert b"0 accounts claimed; 1 skipped (managed by another organization)" in response.content
    assert list(OrgUser.objects.values_list("org", "is_managed")) == [(other_org_admin.org.pk, True)]
    assert AuditEvent.objects.filter(action="org:account:claimed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_domain_removed_by_two_requests_at_once_is_removed_once_not_500(admin_client, org):
    """The second remove found the domain, then waited for its lock while the first deleted it
    (PostgreSQL): the locked read found nothing and raised DoesNotExist, a 500. It now answers as a
    remove sent twice does: back to the domains, "removed already", one event."""
    from orgwarden.orgs.services.domains import domain_remove
    from orgwarden.testing.races import behind_an_open_transaction

    admin = org.admins.first().account
    domain = Domain.objects.create(org=org, name="acme.test", token="t")
    response = behind_an_open_transaction(
        lambda: domain_remove(org=org, actor=admin, domain_id=domain.domain_id),
        lambda: admin_client.post(url(org, f"{domain.domain_id}/remove"), follow=True),
    )
    assert response.status_code == 200
    assert "acme.test was removed already." in response.content.decode()
    assert not Domain.objects.filter(pk=domain.pk).exists()
    assert AuditEvent.objects.filter(action="org:domain:removed").count() == 1
