"""The one catalogue of audit actions: every event's ``action`` is a key defined here.

Keys follow ``subject:object:verb`` (``org:admin:invited``). Display names are what the console and
the CSV show; categories drive the audit log's category filter. Add new actions here, never inline
in a service: ``event_record`` refuses a key it does not know, so a typo fails its test at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Action:
    key: str
    name: str
    category: str


SIGN_IN = "Sign-in and sessions"
ACCOUNTS = "Accounts"
ORGANIZATION = "Organization"
ADMINS = "Administrators"
AUDIT = "Audit log"

ACTIONS: tuple[Action, ...] = (
    # Sign-in and sessions
    Action("account:signin:succeeded", "Signed in", SIGN_IN),
    Action("account:signin:failed", "Sign-in failed", SIGN_IN),
    Action("account:signin:throttled", "Sign-in refused: too many attempts", SIGN_IN),
    Action("account:signout", "Signed out", SIGN_IN),
    Action("account:session:ended", "Session ended", SIGN_IN),
    Action("account:sessions:ended_all", "All sessions ended", SIGN_IN),
    Action("account:signin_link:created", "One-time sign-in link created", SIGN_IN),
    Action("account:signin_link:used", "One-time sign-in link used", SIGN_IN),
    # Accounts
    Action("account:created", "Account created", ACCOUNTS),
    Action("account:email:verification_sent", "Email verification sent", ACCOUNTS),
    Action("account:email:verified", "Email verified", ACCOUNTS),
    Action("account:profile:updated", "Profile updated", ACCOUNTS),
    Action("account:password:changed", "Password changed", ACCOUNTS),
    Action("account:password:reset_requested", "Password reset requested", ACCOUNTS),
    Action("account:password:reset", "Password reset", ACCOUNTS),
    # Organization
    Action("org:created", "Organization created", ORGANIZATION),
    Action("org:renamed", "Organization renamed", ORGANIZATION),
    # Administrators
    Action("org:admin:invited", "Admin invited", ADMINS),
    Action("org:admin:invitation_accepted", "Admin invitation accepted", ADMINS),
    Action("org:admin:invitation_revoked", "Admin invitation revoked", ADMINS),
    Action("org:admin:added", "Admin added", ADMINS),
    Action("org:admin:removed", "Admin removed", ADMINS),
    # Audit log
    Action("org:audit:exported", "Audit log exported", AUDIT),
)

BY_KEY: dict[str, Action] = {action.key: action for action in ACTIONS}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(action.category for action in ACTIONS))


def action_for(key: str) -> Action:
    """The catalogued action for ``key``; raises ``KeyError`` for an unknown key."""
    return BY_KEY[key]


def actions_in(category: str) -> list[Action]:
    return [action for action in ACTIONS if action.category == category]
