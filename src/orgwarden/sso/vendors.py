"""Per-vendor presets: the attribute names each IdP sends by default (editable per connection)."""

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
