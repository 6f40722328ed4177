"""Per-vendor knowledge: the attribute names each IdP sends by default (editable per connection),
and where each IdP's console takes the SCIM base URL and key."""

from __future__ import annotations

from dataclasses import dataclass

_MS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


@dataclass(frozen=True, slots=True)
class VendorPreset:
    first_name: str
    last_name: str
    user_id: str
    hint: str


PRESETS: dict[str, VendorPreset] = {
    "okta": VendorPreset(
        "firstName",
        "lastName",
        "userId",
        "Add attribute statements firstName = user.firstName, lastName = user.lastName, "
        "userId = user.id. Name ID format: EmailAddress, value user.email.",
    ),
    "entra": VendorPreset(
        f"{_MS}givenname",
        f"{_MS}surname",
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
        "Entra ID sends these claims by default. Unique user identifier (Name ID): "
        "user.mail, format Email address.",
    ),
    "google": VendorPreset(
        "firstName",
        "lastName",
        "userId",
        "Attribute mapping: First name → firstName, Last name → lastName; "
        "Name ID: Basic Information > Primary email.",
    ),
    "adfs": VendorPreset(
        f"{_MS}givenname",
        f"{_MS}surname",
        "objectGUID",
        "Claim rules: Given-Name, Surname, objectGUID; NameID from E-Mail-Addresses.",
    ),
    "onelogin": VendorPreset(
        "User.FirstName",
        "User.LastName",
        "User.id",
        "OneLogin's SAML custom connector sends User.FirstName and User.LastName.",
    ),
    "ping": VendorPreset(
        "firstName", "lastName", "userId", "Map SAML_SUBJECT to mail, and add firstName, lastName and userId."
    ),
    "jumpcloud": VendorPreset(
        "firstname",
        "lastname",
        "userid",
        "Add user attributes firstname, lastname and the user's id as userid.",
    ),
    "auth0": VendorPreset(
        f"{_MS}givenname",
        f"{_MS}surname",
        f"{_MS}nameidentifier",
        "The SAML2 Web App add-on sends these claims; set nameIdentifierProbes to email.",
    ),
    "cyberark": VendorPreset(
        "FirstName",
        "LastName",
        "UserId",
        "Add SAML attributes FirstName, LastName and UserId in the app's script.",
    ),
    "other": VendorPreset(
        "firstName",
        "lastName",
        "userId",
        "Send the email as NameID, plus first name, last name and a stable user id.",
    ),
}


# --- SCIM: where each IdP takes the base URL and the key ----------------------------------------------


@dataclass(frozen=True, slots=True)
class ScimGuide:
    """What an admin does in the IdP's own console to point its provisioning at orgwarden.

    ``steps`` name the IdP's fields as its console labels them; "the SCIM base URL" and "the API
    key" are the two values the provisioning page gives. ``note`` is said before the steps: for an
    IdP that cannot provision a custom app, it is all there is (``steps`` is empty).
    """

    steps: tuple[str, ...]
    note: str = ""


_EMAIL = (
    "orgwarden takes the person's primary email (else the first email, else userName) as the "
    "account's email: it must be on one of your verified domains."
)
_NO_SCIM = (
    "People can get their account the first time they sign in through single sign-on (just in time: "
    "when their domain claims accounts automatically and is linked to this identity provider, and "
    "its policy enforces single sign-on); deactivate leavers under Managed accounts. A SCIM 2.0 "
    "client of your own can still use the base URL and key on this page."
)

SCIM_GUIDES: dict[str, ScimGuide] = {
    "okta": ScimGuide(
        (
            "Open the app integration you use for orgwarden's single sign-on. General → App Settings → "
            "Edit: set Provisioning to SCIM, and save.",
            "Provisioning → Integration → Edit. SCIM connector base URL: the SCIM base URL. Unique "
            "identifier field for users: userName.",
            "Supported provisioning actions: Import New Users and Profile Updates, Push New Users, Push "
            "Profile Updates, Push Groups.",
            "Authentication Mode: HTTP Header. Authorization: the API key (Okta adds “Bearer”). Test "
            "Connector Configuration, then Save.",
            "Provisioning → To App → Edit: enable Create Users, Update User Attributes and Deactivate "
            "Users. Assign people to the app; push groups from its Push Groups tab.",
        ),
        note=_EMAIL,
    ),
    "entra": ScimGuide(
        (
            "Enterprise applications: open the app you use for orgwarden's single sign-on (a "
            "non-gallery app: New application → Create your own application).",
            "Provisioning → Get started (or New configuration). Provisioning Mode: Automatic.",
            "Admin Credentials. Tenant URL: the SCIM base URL. Secret Token: the API key. Test "
            "Connection, then Save.",
            "Mappings: keep Provision Microsoft Entra ID Users on, and Groups if you want synced groups. "
            "Users and groups: assign who is provisioned.",
            "Provisioning → Start provisioning. Entra syncs about every 40 minutes; Provision on demand "
            "sends one person at once.",
        ),
        note=_EMAIL + " Entra sends mail as the work email and userPrincipalName as userName.",
    ),
    "onelogin": ScimGuide(
        (
            "Applications → Add App: SCIM Provisioner with SAML (SCIM v2 Enterprise). It can also be "
            "the app for orgwarden's single sign-on.",
            "Configuration. SCIM Base URL: the SCIM base URL. SCIM Bearer Token: the API key. API "
            "Connection: Enable.",
            "Parameters: set SCIM Username to Email.",
            "Provisioning: tick Enable provisioning (untick admin approval for Create, Update and Delete "
            "if changes should flow at once), Save, then give people access to the app.",
        ),
        note=_EMAIL,
    ),
    "jumpcloud": ScimGuide(
        (
            "SSO Applications: open the custom SAML app you use for orgwarden's single sign-on, then "
            "its Identity Management tab.",
            "SCIM Version: SCIM 2.0. Base URL: the SCIM base URL. Token Key: the API key. Test User "
            "Email: someone's email on one of your verified domains.",
            "Test Connection, then Activate, and Save. On the User Groups tab, bind the groups to provision.",
        ),
        note=_EMAIL,
    ),
    "google": ScimGuide(
        (),
        note="Google Workspace provisions users automatically only into the apps of its own catalog, "
        "not into a custom SAML app such as orgwarden. " + _NO_SCIM,
    ),
    "adfs": ScimGuide((), note="AD FS has no SCIM provisioning. " + _NO_SCIM),
    "other": ScimGuide(
        (
            "In your identity provider's SCIM 2.0 provisioning settings for orgwarden's app, give the "
            "SCIM base URL as the base URL (or tenant URL).",
            "Authentication: an HTTP header, Authorization: Bearer followed by the API key.",
            "Unique identifier for users: userName. Send the work email as the primary email.",
            "Turn on creating, updating and deactivating users, and pushing groups if you want synced "
            "groups; then assign people to the app.",
        ),
        note=_EMAIL,
    ),
}


def scim_guide(vendor: str) -> ScimGuide:
    """The SCIM set-up steps for ``vendor``; the general ones for a vendor without its own."""
    return SCIM_GUIDES.get(vendor, SCIM_GUIDES["other"])
