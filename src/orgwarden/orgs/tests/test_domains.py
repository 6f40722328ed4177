"""orgs.services.domains against a real DNS server and a real HTTPS server on loopback.

Every change asserts its audit event; every refusal asserts that nothing changed and nothing was
recorded. Re-checks drive the clock with time_machine and take the TXT record out of the real
DNS server between runs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from orgwarden import humanize
from orgwarden.accounts import services as account_services
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.exceptions import AutomaticClaimTaken, DomainNotVerified, InvalidInput, NotFound
from orgwarden.orgs.models import Domain, OrgUser
from orgwarden.orgs.selectors import domains as selectors
from orgwarden.orgs.services import claims
from orgwarden.orgs.services import domains as services
from orgwarden.orgs.tests.factories import OrgAdminFactory

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def one_event(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, f"expected one {action} event, found {len(found)}"
    return found[0]


def add(org_admin, name: str = "acme.test") -> Domain:
    return services.domain_add(org=org_admin.org, actor=org_admin.account, name=name)


def verified(org_admin, proof_peers, name: str = "acme.test") -> Domain:
    domain = add(org_admin, name)
    proof_peers.publish_txt(name, domain.token)
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="dns"
    )
    assert result.verified, result.reason
    return result.domain


def managed(account) -> OrgUser | None:
    return OrgUser.objects.filter(account=account, is_managed=True).first()


# --- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Acme.Test", "acme.test"),
        ("  acme.test.  ", "acme.test"),
        ("mail.acme.co.uk", "mail.acme.co.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a-b.example", "a-b.example"),
    ],
)
def test_domain_names_are_normalised(raw, clean):
    assert services.domain_name_clean(raw) == clean


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "Enter a domain name"),
        ("localhost", "with a dot"),
        ("192.168.1.10", "not an IP address"),
        ("[::1]", "not an IP address"),
        ("2001:db8::1", "not an IP address"),
        ("ann@acme.test", "domain name only"),
        ("https://acme.test/", "domain name only"),
        ("-acme.test", "not a valid domain name"),
        ("acme-.test", "not a valid domain name"),
        ("ac me.test", "not a valid domain name"),
        ("acme..test", "not a valid domain name"),
        ("acme.123", "not a valid domain name"),
        ("a" * 64 + ".test", "not a valid domain name"),
        (".".join(["abcdefghij"] * 23) + ".test", "at most 253"),
        ("acme_corp.test", "not a valid domain name"),
    ],
)
def test_malformed_domain_names_are_refused_with_a_reason(raw, words):
    with pytest.raises(InvalidInput) as caught:
        services.domain_name_clean(raw)
    assert words in caught.value.message


# --- add ------------------------------------------------------------------------------------------------


def test_domain_add_stores_a_random_token_and_records_it(org_admin):
    domain = add(org_admin, "  ACME.test ")
    other = add(org_admin, "beta.test")
    assert domain.name == "acme.test" and domain.status == Domain.Status.UNVERIFIED
    assert len(domain.token) == 32 and domain.token != other.token
    event = events("org:domain:added")[0]
    assert event.org_id == org_admin.org.org_id and event.actor_id == org_admin.account.account_id
    assert event.targets == [{"type": "domain", "id": domain.domain_id, "name": "acme.test"}]


@pytest.mark.parametrize("name", ["gmail.com", "GMAIL.COM", "outlook.com", "yahoo.com"])
def test_public_mail_domains_are_refused(org_admin, name):
    with pytest.raises(InvalidInput) as caught:
        add(org_admin, name)
    assert "public mail domain" in caught.value.message
    assert not Domain.objects.exists() and not AuditEvent.objects.exists()


def test_the_same_org_cannot_add_a_domain_twice_but_another_org_can(org_admin, other_org_admin):
    add(org_admin)
    with pytest.raises(InvalidInput) as caught:
        add(org_admin, "Acme.Test")
    assert "already one of your domains" in caught.value.message
    add(other_org_admin)
    assert Domain.objects.filter(name="acme.test").count() == 2
    assert len(events("org:domain:added")) == 2


def test_only_the_orgs_admins_may_add(org_admin, other_org_admin):
    with pytest.raises(NotFound):
        services.domain_add(org=org_admin.org, actor=other_org_admin.account, name="acme.test")
    assert not Domain.objects.exists() and not AuditEvent.objects.exists()


# --- verify ---------------------------------------------------------------------------------------------


def test_dns_proof_verifies(org_admin, proof_peers):
    domain = add(org_admin)
    proof_peers.publish_txt("acme.test", domain.token, "v=spf1 -all")
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="dns"
    )
    assert result.verified and result.reason == ""
    domain.refresh_from_db()
    assert domain.status == Domain.Status.VERIFIED and domain.method == "dns"
    assert domain.verified_at is not None and domain.last_checked_at is not None
    event = one_event("org:domain:verified")
    assert event.details == {"method": "dns"} and event.org_id == org_admin.org.org_id


def test_https_proof_verifies(org_admin, proof_peers):
    domain = add(org_admin)
    proof_peers.publish_file("acme.test", domain.token)
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="https"
    )
    assert result.verified, result.reason
    assert result.domain.method == "https"
    assert one_event("org:domain:verified").details == {"method": "https"}


@pytest.mark.parametrize(
    ("setup", "method", "words"),
    [
        (lambda peers, token: peers.publish_txt("acme.test", "not-the-token"), "dns", "do not include"),
        (lambda peers, token: None, "dns", "No TXT record was found"),
        (lambda peers, token: None, "https", "has no address"),
        (
            lambda peers, token: peers.dns.zone.set("acme.test", "A", ["127.0.0.1"]),
            "https",
            "answered HTTP 404",
        ),
        (lambda peers, token: peers.publish_file("acme.test", "wrong"), "https", "does not hold"),
    ],
    ids=["dns-wrong-token", "dns-missing", "https-no-address", "https-404", "https-wrong-token"],
)
def test_a_failed_verification_is_stored_and_recorded_not_raised(
    org_admin, proof_peers, setup, method, words
):
    domain = add(org_admin)
    setup(proof_peers, domain.token)
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method=method
    )
    assert not result.verified and words in result.reason
    domain.refresh_from_db()
    assert domain.status == Domain.Status.UNVERIFIED and domain.last_check_error == result.reason
    assert domain.last_checked_at is not None
    event = one_event("org:domain:verification_failed")
    assert event.details == {"method": method, "reason": result.reason}
    assert not events("org:domain:verified")


def test_private_addresses_are_refused_unless_the_operator_allows_them(org_admin, proof_peers, settings):
    domain = add(org_admin)
    proof_peers.publish_file("acme.test", domain.token)
    settings.DOMAIN_PROOF_ALLOW_PRIVATE = False
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="https"
    )
    assert not result.verified and "private network address" in result.reason


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible (deprecated) 169.254.169.254
        "fec0::1",  # site-local (deprecated)
    ],
)
def test_a_private_ipv4_address_in_ipv6_form_is_refused_too(org_admin, proof_peers, settings, address):
    """Python calls these IPv6 addresses global; the IPv4 address a gateway reaches through them is not."""
    domain = add(org_admin)
    proof_peers.dns.zone.set("acme.test", "AAAA", [address])
    settings.DOMAIN_PROOF_ALLOW_PRIVATE = False
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="https"
    )
    assert not result.verified and "private network address" in result.reason


def test_a_global_ipv4_address_in_ipv6_form_is_fetched_from(settings):
    from orgwarden.orgs import proofs

    settings.DOMAIN_PROOF_ALLOW_PRIVATE = False
    assert proofs._allowed("64:ff9b::808:808") and proofs._allowed("2002:808:808::1")
    assert proofs._allowed("2606:4700::1111")


def test_a_failed_check_does_not_unverify_a_verified_domain(org_admin, proof_peers):
    domain = verified(org_admin, proof_peers)
    result = services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="https"
    )
    assert not result.verified
    domain.refresh_from_db()
    assert domain.status == Domain.Status.VERIFIED and domain.method == "dns"


def test_verify_refuses_unknown_methods_and_other_orgs(org_admin, other_org_admin, proof_peers):
    domain = add(org_admin)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput):
        services.domain_verify(
            org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="ftp"
        )
    with pytest.raises(NotFound):
        services.domain_verify(
            org=org_admin.org, actor=other_org_admin.account, domain_id=domain.domain_id, method="dns"
        )
    with pytest.raises(NotFound):
        services.domain_verify(
            org=other_org_admin.org, actor=other_org_admin.account, domain_id=domain.domain_id, method="dns"
        )
    assert AuditEvent.objects.count() == before


def test_two_orgs_may_verify_the_same_domain(org_admin, other_org_admin, proof_peers):
    first = verified(org_admin, proof_peers)
    second = add(other_org_admin)
    proof_peers.publish_txt("acme.test", second.token, f"orgwarden-domain-verification={first.token}")
    result = services.domain_verify(
        org=other_org_admin.org, actor=other_org_admin.account, domain_id=second.domain_id, method="dns"
    )
    assert result.verified
    assert Domain.objects.filter(name="acme.test", status="verified").count() == 2


# --- claiming -------------------------------------------------------------------------------------------


def test_automatic_claim_claims_existing_accounts_on_the_domain(org_admin, other_org_admin, proof_peers):
    domain = verified(org_admin, proof_peers)
    ann = AccountFactory(email="ann@acme.test")
    bob = AccountFactory(email="bob@acme.test")
    AccountFactory(email="cat@sub.acme.test")  # a subdomain is another domain
    AccountFactory(email="dan@beta.test")
    closed = AccountFactory(email="eve@acme.test", status="closed")
    # Fay is managed by the other org already (claimed through a domain of its own, say).
    fay = AccountFactory(email="fay@acme.test")
    claims.account_claim(org=other_org_admin.org, account=fay, domain=None, actor=claims.Actor.system())
    result = services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="automatic"
    )
    assert (result.claimed, result.skipped) == (2, 1)
    for account in (ann, bob):
        row = managed(account)
        assert row.org == org_admin.org and row.domain == domain and row.claimed_at is not None
        assert row.email == account.email and row.managed_notice_seen_at is None
    assert managed(closed) is None and managed(fay).org == other_org_admin.org
    claimed = events("org:account:claimed")
    assert {e.targets[0]["id"] for e in claimed if e.org_id == org_admin.org.org_id} == {
        ann.account_id,
        bob.account_id,
    }
    event = one_event("org:domain:claim_changed")
    assert event.details == {"from": "manual", "to": "automatic", "claimed": 2, "skipped": 1}


def test_automatic_claim_needs_a_verified_domain(org_admin):
    domain = add(org_admin)
    AccountFactory(email="ann@acme.test")
    with pytest.raises(DomainNotVerified):
        services.domain_claim_set(
            org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="automatic"
        )
    domain.refresh_from_db()
    assert domain.claim == "manual" and not OrgUser.objects.exists()
    assert not events("org:domain:claim_changed")


def test_a_second_org_can_verify_but_cannot_claim_automatically(org_admin, other_org_admin, proof_peers):
    first = verified(org_admin, proof_peers)
    services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=first.domain_id, claim="automatic"
    )
    second = add(other_org_admin)
    proof_peers.publish_txt("acme.test", second.token)
    assert services.domain_verify(
        org=other_org_admin.org, actor=other_org_admin.account, domain_id=second.domain_id, method="dns"
    ).verified
    before = AuditEvent.objects.count()
    with pytest.raises(AutomaticClaimTaken) as caught:
        services.domain_claim_set(
            org=other_org_admin.org,
            actor=other_org_admin.account,
            domain_id=second.domain_id,
            claim="automatic",
        )
    assert caught.value.message == "Another organization already claims acme.test automatically."
    second.refresh_from_db()
    assert second.claim == "manual" and AuditEvent.objects.count() == before


def test_the_database_keeps_one_automatic_claim_per_name(org_admin, other_org_admin, proof_peers):
    """If two orgs race, the partial unique constraint decides; the loser gets the clear error."""
    from django.db import IntegrityError, transaction

    first, second = add(org_admin), add(other_org_admin)
    Domain.objects.filter(pk=first.pk).update(claim="automatic", status="verified")
    with pytest.raises(IntegrityError), transaction.atomic():
        Domain.objects.filter(pk=second.pk).update(claim="automatic")


def test_claim_back_to_manual_keeps_claimed_accounts(org_admin, proof_peers):
    domain = verified(org_admin, proof_peers)
    ann = AccountFactory(email="ann@acme.test")
    services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="automatic"
    )
    result = services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="manual"
    )
    assert result.domain.claim == "manual" and managed(ann) is not None
    assert [e.details["to"] for e in events("org:domain:claim_changed")] == ["automatic", "manual"]
    # Setting what is already set changes nothing and records nothing.
    services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="manual"
    )
    assert len(events("org:domain:claim_changed")) == 2
    with pytest.raises(InvalidInput):
        services.domain_claim_set(
            org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="x"
        )


def test_a_new_account_on_an_automatic_domain_is_managed_from_birth(org_admin, proof_peers, settings):
    domain = verified(org_admin, proof_peers)
    services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="automatic"
    )
    settings.SIGNUP_ENABLED = True
    account = account_services.account_signup(
        email="New.Person@ACME.test", display_name="New Person", password="a long enough passphrase"
    )
    row = managed(account)
    assert row is not None and row.org == org_admin.org and row.domain == domain
    event = [e for e in events("org:account:claimed") if e.targets[0]["id"] == account.account_id]
    assert len(event) == 1 and event[0].actor_type == "system"
    # A manual domain claims nobody at birth.
    other = account_services.account_create(email="x@beta.test", display_name="X", password=None)
    assert managed(other) is None


def test_manual_review_lists_pages_searches_and_claims_selected(org_admin, other_org_admin, proof_peers):
    domain = verified(org_admin, proof_peers)
    people = [AccountFactory(email=f"p{i:02d}@acme.test", display_name=f"Person {i}") for i in range(7)]
    AccountFactory(email="zed@beta.test")
    claims.account_claim(org=other_org_admin.org, account=people[6], domain=None, actor=claims.Actor.system())
    page = selectors.domain_accounts_unmanaged(org=org_admin.org, domain=domain, limit=3)
    assert [r.account.email for r in page.rows] == ["p00@acme.test", "p01@acme.test", "p02@acme.test"]
    page = selectors.domain_accounts_unmanaged(
        org=org_admin.org, domain=domain, after=page.next_after, limit=3
    )
    assert [r.account.email for r in page.rows] == ["p03@acme.test", "p04@acme.test", "p05@acme.test"]
    page = selectors.domain_accounts_unmanaged(
        org=org_admin.org, domain=domain, after=page.next_after, limit=3
    )
    assert [(r.account.email, r.managed_elsewhere) for r in page.rows] == [("p06@acme.test", True)]
    assert page.next_after == ""
    found = selectors.domain_accounts_unmanaged(org=org_admin.org, domain=domain, q="person 4")
    assert [r.account.email for r in found.rows] == ["p04@acme.test"]

    ids = [people[0].account_id, people[1].account_id, people[6].account_id, "nobodyhere"]
    result = services.accounts_claim(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, account_ids=ids
    )
    assert (result.claimed, result.skipped) == (2, 1)
    assert managed(people[0]).org == org_admin.org and managed(people[2]) is None
    assert len([e for e in events("org:account:claimed") if e.org_id == org_admin.org.org_id]) == 2
    remaining = selectors.domain_accounts_unmanaged(org=org_admin.org, domain=domain)
    assert people[0].account_id not in {r.account.account_id for r in remaining.rows}
    # Claiming again is a no-op.
    again = services.accounts_claim(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, account_ids=ids[:2]
    )
    assert again.claimed == 0


def test_claiming_needs_a_verified_domain_of_the_org(org_admin, other_org_admin, proof_peers):
    domain = add(org_admin)
    ann = AccountFactory(email="ann@acme.test")
    with pytest.raises(DomainNotVerified):
        services.accounts_claim(
            org=org_admin.org,
            actor=org_admin.account,
            domain_id=domain.domain_id,
            account_ids=[ann.account_id],
        )
    with pytest.raises(NotFound):
        services.accounts_claim(
            org=other_org_admin.org,
            actor=other_org_admin.account,
            domain_id=domain.domain_id,
            account_ids=[ann.account_id],
        )
    with pytest.raises(NotFound):
        selectors.domain_accounts_unmanaged(org=other_org_admin.org, domain=domain)
    assert not OrgUser.objects.exists()


# --- remove ---------------------------------------------------------------------------------------------


def test_removing_a_domain_releases_the_accounts_claimed_through_it(org_admin, proof_peers):
    domain = verified(org_admin, proof_peers)
    ann = AccountFactory(email="ann@acme.test")
    services.domain_claim_set(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="automatic"
    )
    released = services.domain_remove(org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id)
    assert released == 1 and not Domain.objects.exists() and managed(ann) is None
    assert OrgUser.objects.get(account=ann).is_managed is False
    assert one_event("org:account:released").details == {"reason": "domain_removed"}
    event = one_event("org:domain:removed")
    assert event.details == {"status": "verified", "accounts_released": 1}


def test_remove_refuses_another_orgs_domain(org_admin, other_org_admin):
    domain = add(org_admin)
    with pytest.raises(NotFound):
        services.domain_remove(
            org=other_org_admin.org, actor=other_org_admin.account, domain_id=domain.domain_id
        )
    with pytest.raises(NotFound):
        services.domain_remove(org=org_admin.org, actor=org_admin.account, domain_id="nope\x00")
    assert Domain.objects.count() == 1 and not events("org:domain:removed")


# --- re-checks ------------------------------------------------------------------------------------------


def test_recheck_missing_then_restored_then_unverified_after_grace(
    org_admin, proof_peers, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.DOMAIN_PROOF_GRACE_DAYS = 7
    second_admin = OrgAdminFactory(org=org_admin.org)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        domain = verified(org_admin, proof_peers)
        ann = AccountFactory(email="ann@acme.test")
        services.domain_claim_set(
            org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, claim="automatic"
        )
        summary = services.domains_recheck()
    assert (summary.checked, summary.ok) == (1, 1)

    # Day 1: the record is gone -> missing, the admins are told the date it will be unverified.
    proof_peers.remove_txt("acme.test")
    day1 = start + timedelta(days=1)
    with time_machine.travel(day1, tick=False), django_capture_on_commit_callbacks(execute=True):
        summary = services.domains_recheck()
    assert (summary.missing, summary.unverified) == (1, 0)
    domain.refresh_from_db()
    assert domain.status == "verified" and domain.proof_missing_since == day1
    assert "No TXT record" in domain.last_check_error
    event = one_event("org:domain:proof_missing")
    assert (
        event.actor_type == "system"
        and event.details["unverified_after"] == (day1 + timedelta(days=7)).isoformat()
    )
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [org_admin.account.email, second_admin.account.email]
    )
    body = mailoutbox[0].body
    assert f"orgwarden-domain-verification={domain.token}" in body
    assert f"before {humanize.moment_in_full(day1 + timedelta(days=7))}" in body  # a deadline, in full
    assert f"/admin/o/{org_admin.org.org_id}/domains/{domain.domain_id}/" in body

    # Day 2: still missing, within the grace period: no second email, no second event.
    with (
        time_machine.travel(start + timedelta(days=2), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.domains_recheck().missing == 1
    assert len(mailoutbox) == 2 and len(events("org:domain:proof_missing")) == 1

    # Day 3: back -> restored.
    proof_peers.publish_txt("acme.test", domain.token)
    with time_machine.travel(start + timedelta(days=3), tick=False):
        assert services.domains_recheck().restored == 1
    domain.refresh_from_db()
    assert domain.proof_missing_since is None and domain.last_check_error == ""
    assert one_event("org:domain:proof_restored").details["method"] == "dns"

    # Gone again on day 4, still gone past the grace period on day 12 -> unverified, accounts released.
    proof_peers.remove_txt("acme.test")
    with time_machine.travel(start + timedelta(days=4), tick=False):
        services.domains_recheck()
    with time_machine.travel(start + timedelta(days=10), tick=False):
        assert services.domains_recheck().missing == 1
    with (
        time_machine.travel(start + timedelta(days=11, seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        summary = services.domains_recheck()
    assert summary.unverified == 1
    domain.refresh_from_db()
    assert (domain.status, domain.claim, domain.proof_missing_since) == ("unverified", "manual", None)
    assert managed(ann) is None
    assert one_event("org:account:released").details == {"reason": "domain_unverified"}
    assert one_event("org:domain:unverified").details["accounts_released"] == 1
    assert "is no longer verified" in mailoutbox[-1].subject
    # An unverified domain is no longer re-checked.
    assert services.domains_recheck().checked == 0


def test_recheck_uses_the_method_that_verified(org_admin, proof_peers):
    domain = add(org_admin)
    proof_peers.publish_file("acme.test", domain.token)
    services.domain_verify(
        org=org_admin.org, actor=org_admin.account, domain_id=domain.domain_id, method="https"
    )
    assert services.domains_recheck().ok == 1
    proof_peers.web.files.clear()
    summary = services.domains_recheck()
    assert summary.missing == 1
    domain.refresh_from_db()
    assert "HTTP 404" in domain.last_check_error


def test_one_domains_failure_does_not_undo_another(org_admin, other_org_admin, proof_peers):
    bad = verified(org_admin, proof_peers, "beta.test")
    good = verified(other_org_admin, proof_peers)
    # A method no lookup knows makes that domain's re-check raise; the next one is still done.
    Domain.objects.filter(pk=bad.pk).update(method="bogus")
    Domain.objects.filter(pk=good.pk).update(last_checked_at=None)
    summary = services.domains_recheck()
    assert (summary.checked, summary.ok, len(summary.errors)) == (2, 1, 1)
    good.refresh_from_db()
    assert good.last_checked_at is not None


def test_recheck_command_prints_a_summary_and_fails_on_errors(org_admin, proof_peers, settings, capsys):
    verified(org_admin, proof_peers)
    call_command("domains", "recheck")
    assert capsys.readouterr().out.strip() == (
        "Re-checked 1 verified domain: 1 ok, 0 restored, 0 proof missing, 0 unverified, 0 errors."
    )
    Domain.objects.update(method="bogus")
    with pytest.raises(CommandError):
        call_command("domains", "recheck")
    assert "1 error." in capsys.readouterr().out


def test_an_org_api_key_may_add_and_verify(org_admin, proof_peers):
    from dataclasses import dataclass

    @dataclass
    class Key:  # what orgs.services.actors needs of an org API key
        org_id: int
        key_id: str
        name: str

    key = Key(org_admin.org.pk, "key123", "Provisioning script")
    domain = services.domain_add(org=org_admin.org, actor=key, name="acme.test")
    proof_peers.publish_txt("acme.test", domain.token)
    assert services.domain_verify(
        org=org_admin.org, actor=key, domain_id=domain.domain_id, method="dns"
    ).verified
    event = one_event("org:domain:verified")
    assert (event.actor_type, event.actor_id, event.actor_name) == (
        "api_key",
        "key123",
        "Provisioning script",
    )
    with pytest.raises(NotFound):
        services.domain_add(org=org_admin.org, actor=Key(org_admin.org.pk + 1000, "k", "n"), name="beta.test")
