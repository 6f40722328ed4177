"""Reads of the policies domain: which policy applies to an account, and why; the console's lists.

``policy_for(account)`` is the ONE resolution used everywhere (sign-in steps, the session-limit
middleware, the password rules, "Check a user"): an unmanaged account has no policy; a managed one
has its ``PolicyMember`` row's policy when that policy belongs to the org and directory that manage
it, else its directory's default policy. A managed account whose directory was deleted falls back to
the org's local directory.

Whether what a policy asks for is *enforced* is decided here too, once: ``sso_enforced(policy)``
and ``two_step_mandatory(policy)`` are its ``enforce_sso`` and mandatory two-step setting, unless
``enforcement_paused(org)`` says the org's security features are paused (the billing app: no
security subscription, or a lapsed one — see ``hooks``). The configuration is kept; only its
enforcement pauses, and resumes as soon as the subscription is in trial or paid again. Session
limits, password rules and API-token rules are not security-subscription features and always apply.
Every caller (the SSO sign-in step, just-in-time creation, the two-step requirement, the OIDC
authorize check, "Check a user", SCIM) asks these functions, never the raw fields.

``generation()`` is the one cache read the session-limit middleware makes per request: every policy
change bumps it (``services._generation_bump``) so sessions re-resolve their limits only then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from orgwarden.accounts.ids import public_id_lookup
from orgwarden.accounts.models import Account, normalize_email
from orgwarden.humanize import day, minutes_in_words
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.models import Directory, OrgAdmin, Organization, OrgUser, ProductSite
from orgwarden.orgs.products import PRODUCTS
from orgwarden.orgs.selectors.users import cursor_decode, cursor_encode
from orgwarden.policies import hooks
from orgwarden.policies.models import AuthenticationPolicy, BreakGlassAdmin, PolicyMember

GENERATION_KEY = "policies:generation"
PAGE_SIZE = 50


def generation() -> str | None:
    """The current policy generation (``None`` until the first change): one cache read."""
    return cache.get(GENERATION_KEY)


# --- resolution -----------------------------------------------------------------------------------


def _managing_org_user(account: Account) -> OrgUser | None:
    if account.pk is None:  # an account being created (sign-up) can't be managed yet
        return None
    return OrgUser.objects.select_related("org", "directory").filter(account=account, is_managed=True).first()


def _resolve(org_user: OrgUser) -> tuple[AuthenticationPolicy | None, str]:
    """The policy of a managed ``org_user`` and where it comes from: ``"member"`` or ``"default"``."""
    directory_id = org_user.directory_id
    if directory_id is None:
        directory_id = (
            Directory.objects.filter(org_id=org_user.org_id, kind=Directory.Kind.LOCAL)
            .values_list("pk", flat=True)
            .first()
        )
    member = (
        PolicyMember.objects.select_related("policy")
        .filter(
            account_id=org_user.account_id, policy__org_id=org_user.org_id, policy__directory_id=directory_id
        )
        .first()
    )
    if member is not None:
        return member.policy, "member"
    policy = AuthenticationPolicy.objects.filter(directory_id=directory_id, is_default=True).first()
    return policy, "default"


def policy_for(account: Account) -> AuthenticationPolicy | None:
    """The authentication policy that applies to ``account``; ``None`` for an unmanaged account."""
    org_user = _managing_org_user(account)
    if org_user is None:
        return None
    return _resolve(org_user)[0]


def enforcement_paused(org: Organization) -> str | None:
    """Why ``org``'s enforced SSO, mandatory two-step verification and provisioning are paused (a
    clause: "the security subscription of Acme lapsed on 3 Dec 2026"), or ``None`` while enforced."""
    return hooks.pause_reason(org)


def sso_enforced(policy: AuthenticationPolicy) -> bool:
    """Whether ``policy``'s members must sign in with SSO now: configured, and not paused."""
    return policy.enforce_sso and enforcement_paused(policy.org) is None


def two_step_mandatory(policy: AuthenticationPolicy) -> bool:
    """Whether ``policy`` makes two-step verification mandatory now: configured, and not paused."""
    return (
        policy.two_step == AuthenticationPolicy.TwoStep.MANDATORY and enforcement_paused(policy.org) is None
    )


def break_glass_orgs(account: Account) -> list[Organization]:
    """The orgs where ``account`` is a break-glass admin (and still an admin)."""
    if account.pk is None:
        return []
    admin = OrgAdmin.objects.filter(org_id=OuterRef("org_id"), account_id=account.pk)
    rows = BreakGlassAdmin.objects.filter(account=account).filter(Exists(admin)).select_related("org")
    return [row.org for row in rows]


def is_break_glass(account: Account, org: Organization) -> bool:
    """Whether ``account`` is a break-glass admin of ``org`` (and still its admin): exempt from the SSO
    that ``org`` enforces, held to 2SV.

    Only ``org``'s own: being break-glass in some other org (anyone can create one and make
    themselves its break-glass admin) exempts nobody from the SSO of the org that manages them.
    """
    if account.pk is None:
        return False
    admin = OrgAdmin.objects.filter(org_id=OuterRef("org_id"), account_id=account.pk)
    return BreakGlassAdmin.objects.filter(account=account, org=org).filter(Exists(admin)).exists()


def two_step_requirement(account: Account) -> str | None:
    """Why ``account`` must use two-step verification (its policy, or break-glass), or ``None``."""
    policy = policy_for(account)
    if policy is not None and two_step_mandatory(policy):
        return f"{policy.name} of {policy.org.name} requires two-step verification."
    # Break-glass admins keep their password when SSO is enforced, so they are held to 2SV; while
    # the org's enforcement is paused nobody is held to SSO, and the rule pauses with it.
    orgs = [org for org in break_glass_orgs(account) if enforcement_paused(org) is None]
    if orgs:
        return f"{orgs[0].name} requires two-step verification of its break-glass admins."
    return None


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """What the session-limit middleware keeps in the session (``as_session``)."""

    org_id: str
    idle_minutes: int
    absolute_minutes: int

    def as_session(self) -> dict:
        return {"org": self.org_id, "idle": self.idle_minutes, "abs": self.absolute_minutes}


def session_limits_for(account: Account) -> SessionLimits | None:
    """The idle and absolute limits of ``account``'s policy; ``None`` when no policy applies."""
    policy = policy_for(account)
    if policy is None:
        return None
    return SessionLimits(policy.org.org_id, policy.idle_session_minutes, policy.absolute_session_minutes)


def password_expires_at(account: Account, policy: AuthenticationPolicy | None) -> datetime | None:
    """When ``account``'s password expires under ``policy`` (``None``: it does not)."""
    if policy is None or not policy.password_expiry_days or not account.has_usable_password():
        return None
    since = account.password_changed_at or account.created_at
    return since + timedelta(days=policy.password_expiry_days)


# --- console lists ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyRow:
    policy: AuthenticationPolicy
    member_count: int


@dataclass(frozen=True, slots=True)
class DirectoryPolicies:
    directory: Directory
    policies: list[PolicyRow]  # default first, then by name


def _member_counts(*, org: Organization) -> dict[int, int]:
    """Members per non-default policy (rows whose account the org still manages in its directory)."""
    managed = OrgUser.objects.filter(
        org=org,
        is_managed=True,
        account_id=OuterRef("account_id"),
        directory_id=OuterRef("policy__directory_id"),
    )
    rows = (
        PolicyMember.objects.filter(policy__org=org)
        .filter(Exists(managed))
        .values("policy_id")
        .annotate(n=Count("id"))
    )
    return {row["policy_id"]: row["n"] for row in rows}


def directories_with_policies(*, org: Organization) -> list[DirectoryPolicies]:
    """Every directory of ``org`` (local first) with its policies and their member counts."""
    counts = _member_counts(org=org)
    managed = dict(
        OrgUser.objects.filter(org=org, is_managed=True)
        .values("directory_id")
        .annotate(n=Count("id"))
        .values_list("directory_id", "n")
    )
    local = Directory.objects.filter(org=org, kind=Directory.Kind.LOCAL).values_list("pk", flat=True).first()
    policies = list(AuthenticationPolicy.objects.filter(org=org).order_by("-is_default", "name"))
    result = []
    for directory in Directory.objects.filter(org=org).order_by("-kind", "name"):
        own = [p for p in policies if p.directory_id == directory.pk]
        in_directory = managed.get(directory.pk, 0) + (managed.get(None, 0) if directory.pk == local else 0)
        placed = sum(counts.get(p.pk, 0) for p in own if not p.is_default)
        rows = [
            PolicyRow(p, max(in_directory - placed, 0) if p.is_default else counts.get(p.pk, 0)) for p in own
        ]
        result.append(DirectoryPolicies(directory, rows))
    return result


def directory_get(*, org: Organization, directory_id: str) -> Directory:
    directory = Directory.objects.filter(org=org, directory_id=public_id_lookup(directory_id)).first()
    if directory is None:
        raise NotFound()
    return directory


def policy_get(*, org: Organization, policy_id: str) -> AuthenticationPolicy:
    """``org``'s policy ``policy_id`` (with its directory); raises ``NotFound`` for any other."""
    policy = (
        AuthenticationPolicy.objects.select_related("directory", "org")
        .filter(org=org, policy_id=public_id_lookup(policy_id))
        .first()
    )
    if policy is None:
        raise NotFound()
    return policy


def policies_of_directory(*, org: Organization, directory: Directory) -> QuerySet[AuthenticationPolicy]:
    return AuthenticationPolicy.objects.filter(org=org, directory=directory).order_by("-is_default", "name")


def _members_of(*, org: Organization, policy: AuthenticationPolicy) -> QuerySet[OrgUser]:
    users = OrgUser.objects.filter(org=org, is_managed=True)
    if policy.is_default:
        in_directory = Q(directory=policy.directory)
        if policy.directory.kind == Directory.Kind.LOCAL:
            in_directory |= Q(directory__isnull=True)
        placed = PolicyMember.objects.filter(
            account_id=OuterRef("account_id"), policy__directory=policy.directory, policy__org=org
        )
        return users.filter(in_directory).exclude(Exists(placed))
    member = PolicyMember.objects.filter(account_id=OuterRef("account_id"), policy=policy)
    return users.filter(directory=policy.directory).filter(Exists(member))


def policy_member_count(*, org: Organization, policy: AuthenticationPolicy) -> int:
    return _members_of(org=org, policy=policy).count()


@dataclass(frozen=True, slots=True)
class MembersPage:
    rows: list[OrgUser]
    next_cursor: str | None


def policy_members(
    *, org: Organization, policy: AuthenticationPolicy, after: str | None = None, size: int = PAGE_SIZE
) -> MembersPage:
    """One page of ``policy``'s members by email (keyset). Raises ``InvalidInput`` for a bad cursor."""
    users = _members_of(org=org, policy=policy).select_related("account").order_by("email")
    if after:
        users = users.filter(email__gt=cursor_decode(after))
    found = list(users[: size + 1])
    rows = found[:size]
    return MembersPage(rows, cursor_encode(rows[-1].email) if len(found) > size else None)


def sign_in_rules_required(*, org: Organization) -> bool:
    """Whether any of ``org``'s policies makes two-step verification mandatory or enforces SSO
    (whether the subscription lets them apply now is ``enforcement_paused``'s question)."""
    return AuthenticationPolicy.objects.filter(
        Q(two_step=AuthenticationPolicy.TwoStep.MANDATORY) | Q(enforce_sso=True), org=org
    ).exists()


def break_glass_admins(*, org: Organization) -> QuerySet[BreakGlassAdmin]:
    return BreakGlassAdmin.objects.filter(org=org).select_related("account").order_by("added_at")


def break_glass_candidates(*, org: Organization) -> QuerySet[OrgAdmin]:
    """Admins of ``org`` who are not break-glass admins yet."""
    chosen = BreakGlassAdmin.objects.filter(org=org, account_id=OuterRef("account_id"))
    return (
        OrgAdmin.objects.filter(org=org)
        .exclude(Exists(chosen))
        .select_related("account")
        .order_by("account__email")
    )


def managed_account_by_email(*, org: Organization, email: str) -> Account:
    """The account with ``email`` that ``org`` manages; raises ``NotFound`` otherwise."""
    email = normalize_email(email)
    if not email or "\x00" in email or len(email) > 254:
        raise InvalidInput("Enter an email address.")
    org_user = OrgUser.objects.select_related("account").filter(org=org, is_managed=True, email=email).first()
    if org_user is None:
        raise NotFound(f"{org.name} doesn't manage an account with the email {email}.")
    return org_user.account


def managed_account(*, org: Organization, account_id: str) -> Account:
    """The account ``account_id`` that ``org`` manages; raises ``NotFound`` otherwise."""
    org_user = (
        OrgUser.objects.select_related("account")
        .filter(org=org, is_managed=True, account__account_id=public_id_lookup(account_id))
        .first()
    )
    if org_user is None:
        raise NotFound()
    return org_user.account


# --- "Check a user" ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One line of the explanation: what signing in needs (``summary``) and why."""

    topic: str
    summary: str
    why: str
    applies: bool  # True when it asks something of the person (shown as a badge)


@dataclass(frozen=True, slots=True)
class Explanation:
    account: Account
    managed: bool
    org: Organization | None
    directory: Directory | None
    policy: AuthenticationPolicy | None
    policy_source: str  # "member", "default", "unmanaged" or "none" (a directory without its default)
    policy_why: str
    break_glass: bool
    requirements: list[Requirement]
    site: ProductSite | None = None


def explain_sign_in(account: Account, site: ProductSite | None = None) -> Explanation:
    """Which policy applies to ``account`` and exactly what signing in (to ``site``) requires, and why."""
    org_user = _managing_org_user(account)
    if org_user is None:
        return Explanation(
            account=account,
            managed=False,
            org=None,
            directory=None,
            policy=None,
            policy_source="unmanaged",
            policy_why="No organization manages this account, so no authentication policy applies.",
            break_glass=False,
            requirements=[],
            site=site,
        )
    policy, source = _resolve(org_user)
    directory = policy.directory if policy else org_user.directory
    break_glass = org_user.org in break_glass_orgs(account)
    if policy is None:  # a directory created without its default policy: nothing to enforce
        return Explanation(
            account=account,
            managed=True,
            org=org_user.org,
            directory=directory,
            policy=None,
            policy_source="none",
            policy_why="This account's directory has no default policy, so no rules apply to it yet.",
            break_glass=break_glass,
            requirements=[],
            site=site,
        )
    # "the Local directory", but "the Okta (employees) directory": an IdP's directory has its name.
    where = (
        f"the {directory.name}"
        if directory.kind == Directory.Kind.LOCAL
        else f"the {directory.name} directory"
    )
    if source == "member":
        why = f"An admin moved this account into {policy.name}, a policy of {where}."
    else:
        why = (
            f"This account belongs to {where} and no admin moved it to another policy, "
            f"so the directory's default policy applies."
        )
    return Explanation(
        account=account,
        managed=True,
        org=org_user.org,
        directory=directory,
        policy=policy,
        policy_source=source,
        policy_why=why,
        break_glass=break_glass,
        requirements=_requirements(account, policy, break_glass, site, enforcement_paused(org_user.org)),
        site=site,
    )


def _requirements(
    account: Account,
    policy: AuthenticationPolicy,
    break_glass: bool,
    site: ProductSite | None,
    paused: str | None,
) -> list[Requirement]:
    product = PRODUCTS.get(site.product) if site is not None else None
    result = []
    if account.status != Account.Status.ACTIVE:  # the rest applies only once it is reactivated
        result.append(
            Requirement(
                "Account",
                f"{account.get_status_display()}: can't sign in",
                f"This account is {account.get_status_display().lower()}, so every sign-in, product "
                f"sign-in and API token is refused whatever its policy says.",
                applies=True,
            )
        )
    result += [
        _sso(policy, break_glass, paused),
        _password(account, policy, sso=policy.enforce_sso and not paused),
    ]
    result.append(_two_step(account, policy, break_glass, product, paused))
    idle = minutes_in_words(policy.idle_session_minutes)
    absolute = minutes_in_words(policy.absolute_session_minutes)
    result.append(
        Requirement(
            "Sessions",
            f"Signed out after {idle} without activity, and {absolute} after signing in",
            f"{policy.name} sets an idle limit of {idle} and an absolute limit of {absolute}.",
            applies=True,
        )
    )
    if policy.api_tokens_allowed:
        days = policy.api_token_max_days
        tokens = Requirement(
            "API tokens",
            f"Allowed, for at most {days} day{'s' if days != 1 else ''}",
            f"{policy.name} allows API tokens with a maximum lifetime of {days} days.",
            applies=False,
        )
    else:
        tokens = Requirement(
            "API tokens", "Not allowed", f"{policy.name} doesn't allow API tokens.", applies=True
        )
    result.append(tokens)
    result.append(
        Requirement(
            "Billing",
            "Billable" if policy.billable else "Not billable",
            f"{policy.name} is {'billable' if policy.billable else 'not billable'}: its members "
            f"{'count' if policy.billable else 'do not count'} towards the subscription.",
            applies=False,
        )
    )
    return result


def _sso(policy: AuthenticationPolicy, break_glass: bool, paused: str | None) -> Requirement:
    if not policy.enforce_sso:
        return Requirement(
            "Single sign-on",
            "Not enforced: signs in with a password",
            f"{policy.name} doesn't enforce single sign-on.",
            applies=False,
        )
    if paused:
        return Requirement(
            "Single sign-on",
            "Paused: signs in with a password",
            f"{policy.name} enforces single sign-on, but enforcement is paused because {paused}.",
            applies=False,
        )
    if break_glass:
        return Requirement(
            "Single sign-on",
            "Exempt: signs in with a password",
            f"{policy.name} enforces single sign-on, but break-glass admins sign in with their password "
            f"so they can reach the console when the identity provider fails.",
            applies=False,
        )
    return Requirement(
        "Single sign-on",
        f"Enforced: signs in through {policy.directory.name}",
        f"{policy.name} enforces single sign-on with the identity provider of its directory.",
        applies=True,
    )


def _password(account: Account, policy: AuthenticationPolicy, *, sso: bool) -> Requirement:
    if sso:
        return Requirement(
            "Password", "Not used", "Single sign-on replaces the password for this account.", applies=False
        )
    rules = f"at least {policy.password_min_length} characters"
    if policy.password_min_strength:
        rules += f", strength {policy.password_min_strength} of 4 or more"
    if not account.has_usable_password():
        return Requirement(
            "Password",
            "Not set yet",
            f"The account has no password; the one it sets must have {rules}.",
            applies=True,
        )
    expires = password_expires_at(account, policy)
    if expires is None:
        return Requirement(
            "Password",
            "Required; never expires",
            f"{policy.name} requires a password with {rules} and doesn't expire passwords.",
            applies=True,
        )
    from django.utils import timezone

    expired = expires <= timezone.now()
    return Requirement(
        "Password",
        f"Required; {'expired on' if expired else 'expires on'} {day(expires)}",
        f"{policy.name} expires passwords after {policy.password_expiry_days} days"
        + ("; a new one must be set at the next sign-in" if expired else "")
        + f". New passwords need {rules}.",
        applies=True,
    )


def _two_step(
    account: Account, policy: AuthenticationPolicy, break_glass: bool, product, paused: str | None
) -> Requirement:
    configured = policy.two_step == AuthenticationPolicy.TwoStep.MANDATORY
    mandatory, break_glass = configured and not paused, break_glass and not paused
    enrolled = account.has_two_step
    if product is not None and not product.two_step_enforced:
        return Requirement(
            "Two-step verification",
            f"Not enforced by {product.name}",
            f"{product.name} signs in with SAML only, where the identity provider handles extra steps.",
            applies=False,
        )
    if mandatory or break_glass:
        because = (
            f"{policy.name} makes it mandatory" if mandatory else "break-glass admins must always use it"
        )
        if enrolled:
            return Requirement(
                "Two-step verification",
                "Required: a code at every sign-in",
                f"The account uses an authenticator app, and {because}.",
                applies=True,
            )
        return Requirement(
            "Two-step verification",
            "Required: enrols at the next sign-in",
            f"{because[0].upper()}{because[1:]}, and the account hasn't set it up yet: the next sign-in "
            f"asks it to set up an authenticator app.",
            applies=True,
        )
    optional = (
        f"{policy.name} makes it mandatory, but enforcement is paused because {paused}"
        if configured and paused
        else f"{policy.name} makes it optional"
    )
    if enrolled:
        return Requirement(
            "Two-step verification",
            "On: a code at every sign-in",
            f"{optional}; the person turned it on.",
            applies=True,
        )
    return Requirement(
        "Two-step verification",
        "Paused: not required" if configured and paused else "Off",
        f"{optional}{',' if configured and paused else ''} and the person hasn't turned it on.",
        applies=False,
    )
