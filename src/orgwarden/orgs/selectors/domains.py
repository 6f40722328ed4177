"""Reads of domains and of the accounts on them; everything org-scoped takes ``org=``.

The review page lists the accounts on a verified domain that ``org`` does not manage yet, sorted
and keyset-paged by email (``after`` is the last email of the page shown), so page 50 costs what
page 1 costs. Accounts another org manages are listed too, flagged, so the admin sees why they
can't be claimed. Each row's status reads as on the Users list: "Invited" for an active account
sent a one-time sign-in link and not signed in since (``accounts.selectors.invited_not_signed_in``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from orgwarden.accounts.models import Account, normalize_email
from orgwarden.accounts.selectors import invited_not_signed_in
from orgwarden.orgs.exceptions import NotFound
from orgwarden.orgs.models import Domain, Organization, OrgUser

PAGE_SIZE = 50


def domains_of(*, org: Organization) -> QuerySet[Domain]:
    """The org's domains, by name."""
    return Domain.objects.filter(org=org).order_by("name")


def managed_counts(*, org: Organization) -> dict[int, int]:
    """How many accounts ``org`` manages through each of its domains, by domain pk."""
    rows = (
        OrgUser.objects.filter(org=org, is_managed=True, domain__isnull=False)
        .values("domain")
        .annotate(n=Count("id"))
    )
    return {row["domain"]: row["n"] for row in rows}


def domain_get(*, org: Organization, domain_id: str) -> Domain:
    """The domain ``domain_id`` of ``org``; ``NotFound`` for an unknown one or another org's."""
    if "\x00" in domain_id:  # from a URL; PostgreSQL refuses NUL in a query (a 500, not a 404)
        raise NotFound()
    domain = Domain.objects.filter(org=org, domain_id=domain_id).first()
    if domain is None:
        raise NotFound()
    return domain


def accounts_on(name: str) -> QuerySet[Account]:
    """Accounts (not closed) whose email is on the domain ``name`` exactly (not its subdomains)."""
    return Account.objects.filter(email__endswith="@" + name).exclude(status=Account.Status.CLOSED)


@dataclass(frozen=True, slots=True)
class AccountRow:
    account: Account
    managed_elsewhere: bool
    invited: bool = False  # sent a one-time sign-in link, not signed in since

    @property
    def status(self) -> str:
        """ "invited" for an active account that is invited, else the account's status — as on the
        Users list (``orgs.selectors.users``), so both pages call one person the same."""
        if self.invited and self.account.status == Account.Status.ACTIVE:
            return "invited"
        return self.account.status


@dataclass(frozen=True, slots=True)
class AccountPage:
    rows: list[AccountRow]
    next_after: str  # the email to pass as ``after`` for the next page; empty on the last page


def domain_accounts_unmanaged(
    *, org: Organization, domain: Domain, q: str = "", after: str = "", limit: int = PAGE_SIZE
) -> AccountPage:
    """One page of the accounts on ``domain`` that ``org`` does not manage, by email."""
    if domain.org_id != org.pk:
        raise NotFound()
    accounts = (
        accounts_on(domain.name)
        .exclude(Exists(OrgUser.objects.filter(org=org, account=OuterRef("pk"), is_managed=True)))
        .annotate(
            managed_elsewhere=Exists(
                OrgUser.objects.filter(account=OuterRef("pk"), is_managed=True).exclude(org=org)
            ),
            invited=invited_not_signed_in(),  # in the page's one query: no query per row
        )
        .order_by("email")
    )
    q = q.strip()
    if "@" in q:  # an address typed with its domain in Unicode is stored in the ASCII form
        q = normalize_email(q)
    if q:
        accounts = accounts.filter(Q(email__icontains=q) | Q(display_name__icontains=q))
    if after:
        accounts = accounts.filter(email__gt=after)
    found = list(accounts[: limit + 1])
    rows = [AccountRow(a, a.managed_elsewhere, a.invited) for a in found[:limit]]
    return AccountPage(rows, found[limit - 1].email if len(found) > limit else "")


def managing_org_user(*, account: Account) -> OrgUser | None:
    """The row through which an org manages ``account`` (with its org and directory), or ``None``."""
    return OrgUser.objects.select_related("org", "directory").filter(account=account, is_managed=True).first()


def verified_domain(*, org: Organization, name: str) -> Domain | None:
    """``org``'s verified domain ``name`` (as stored: lower case, IDNA A-labels), or ``None``."""
    return Domain.objects.filter(org=org, name=name, status=Domain.Status.VERIFIED).first()


def verified_domain_names(*, org: Organization) -> list[str]:
    return list(
        Domain.objects.filter(org=org, status=Domain.Status.VERIFIED)
        .order_by("name")
        .values_list("name", flat=True)
    )


def automatic_domain_for(name: str) -> Domain | None:
    """The verified domain ``name`` that some org claims automatically (at most one), with its org."""
    return (
        Domain.objects.select_related("org")
        .filter(name=name, status=Domain.Status.VERIFIED, claim=Domain.Claim.AUTOMATIC)
        .first()
    )
