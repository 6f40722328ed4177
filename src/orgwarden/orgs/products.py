"""The product catalogue, as data: what applies to each product (DESIGN.md's capability matrix).

Code asks the catalogue (``PRODUCTS[key].sso``, ``.billing``) instead of branching on product
names, so adding a product is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Billing(StrEnum):
    ALL = "all"  # every user with access is billable
    AGENTS = "agents"  # only admins/agents are billable (Jira Service Management)
    SEPARATE = "separate"  # billed outside the subscription (Statuspage)


class Sso(StrEnum):
    FULL = "full"  # SSO through orgwarden's sign-in, policies enforced
    SAML_ONLY = "saml_only"


@dataclass(frozen=True, slots=True)
class Product:
    key: str
    name: str
    sso: Sso
    two_step_enforced: bool
    provisioning: bool
    insights: bool
    billing: Billing
    help_center: bool = False


PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in (
        Product("jira-software", "Jira Software", Sso.FULL, True, True, True, Billing.ALL),
        Product("jira-work-management", "Jira Work Management", Sso.FULL, True, True, True, Billing.ALL),
        Product("jira-service-management", "Jira Service Management", Sso.FULL, True, True, True,
                Billing.AGENTS, help_center=True),
        Product("jira-product-discovery", "Jira Product Discovery", Sso.FULL, True, True, True, Billing.ALL),
        Product("confluence", "Confluence", Sso.FULL, True, True, True, Billing.ALL),
        Product("bitbucket", "Bitbucket", Sso.SAML_ONLY, False, False, False, Billing.ALL),
        Product("trello", "Trello", Sso.SAML_ONLY, False, False, False, Billing.ALL),
        Product("statuspage", "Statuspage", Sso.SAML_ONLY, False, False, False, Billing.SEPARATE),
    )
}  # fmt: skip

CHOICES: list[tuple[str, str]] = [(p.key, p.name) for p in PRODUCTS.values()]
BILLED_ALL: tuple[str, ...] = tuple(k for k, p in PRODUCTS.items() if p.billing == Billing.ALL)
BILLED_AGENTS: tuple[str, ...] = tuple(k for k, p in PRODUCTS.items() if p.billing == Billing.AGENTS)
