"""The console's navigation, as data: sections, their pages, and which pages exist yet.

A page that is not built yet links to a plain "not available yet" page that says what it will
do — never to a broken link. Each later capability flips its entry to a real URL name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Page:
    slug: str
    title: str
    url_name: str | None  # a console URL name taking org_id; None: not built yet
    summary: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    pages: tuple[Page, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "Directory",
        (
            Page(
                "users",
                "Users",
                "console:users",
                "Everyone with access to your products, managed or external.",
            ),
            Page(
                "managed-accounts",
                "Managed accounts",
                "console:managed_accounts",
                "Accounts on your verified domains, under your policies.",
            ),
            Page(
                "groups",
                "Groups",
                "console:groups",
                "Local and synced groups, and the product access they grant.",
            ),
            Page(
                "domains",
                "Domains",
                "console:domains",
                "Verify your email domains and claim their accounts.",
            ),
        ),
    ),
    Section(
        "Products",
        (
            Page(
                "products",
                "Product sites",
                "console:products",
                "The product sites your organization uses and who can use them.",
            ),
            Page(
                "external-users",
                "External users",
                "console:external_users",
                "People with access to your product sites whose accounts you don't manage.",
            ),
            Page(
                "help-centers",
                "Help centers",
                "console:help_centers",
                "Customer portals of your Jira Service Management sites: customers and their sign-in.",
            ),
        ),
    ),
    Section(
        "Security",
        (
            Page(
                "identity-providers",
                "Identity providers",
                "console:identity_providers",
                "SAML single sign-on and SCIM provisioning.",
            ),
            Page(
                "policies",
                "Authentication policies",
                "console:policies",
                "Two-step verification, passwords, sessions and SSO rules.",
            ),
            Page(
                "audit-log",
                "Audit log",
                "console:audit_log",
                "Every sign-in and change, searchable and exportable.",
            ),
            Page(
                "api-tokens",
                "User API tokens",
                "console:api_tokens",
                "Every API token of your managed accounts; revoke any of them.",
            ),
            Page(
                "insights",
                "Insights",
                "console:insights",
                "Who uses which product, and how your people sign in.",
            ),
        ),
    ),
    Section(
        "Billing", (Page("billing", "Billing", "console:billing", "Your subscription and billable users."),)
    ),
    Section(
        "Settings",
        (
            Page("admins", "Administrators", "console:admins", "Who administers this organization."),
            Page("api-keys", "API keys", "console:api_keys", "Keys for the Organizations REST API."),
            Page(
                "settings",
                "Organization",
                "console:org_settings",
                "Your organization's name and id.",
            ),
        ),
    ),
    Section(
        "Support",
        (
            Page(
                "support",
                "Support requests",
                "console:support",
                "Raise a request with the operators of this installation.",
            ),
        ),
    ),
)

PAGES: dict[str, Page] = {page.slug: page for section in SECTIONS for page in section.pages}
