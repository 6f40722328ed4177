"""Every write of the accounts domain. Each function is atomic and records its audit event.

Sign-in itself (the state machine, throttling) lives in ``accounts.signin``; the functions here
are the state changes it ends in: a recorded success or failure, a session ended, a password set.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from orgwarden.accounts import emails, hooks, throttle
from orgwarden.accounts.exceptions import (
    ChangeRefused,
    EmailTaken,
    InvalidInput,
    InvalidLink,
    InvalidPassword,
    PasswordNotUsed,
    SessionNotFound,
    SignupDisabled,
    TooManyAttempts,
    WrongPassword,
)
from orgwarden.accounts.ids import new_secret, secret_hash
from orgwarden.accounts.models import (
    Account,
    RecoveryCode,
    Session,
    SignInLink,
    normalize_email,
    stored_session_key,
)
from orgwarden.audit.services import Actor, Target, event_record

EMAIL_VERIFICATION_SALT = "orgwarden.accounts.verify-email"
EMAIL_VERIFICATION_MAX_AGE = timedelta(days=3)
SIGNIN_LINK_LIFETIME = timedelta(hours=24)
EMAIL_CHANGE_SALT = "orgwarden.accounts.change-email"
EMAIL_CHANGE_MAX_AGE = timedelta(hours=24)


def password_check(*, password: str, account: Account | None = None) -> None:
    """Raise ``InvalidPassword`` listing every rule ``password`` fails.

    Django's validators, then ``hooks.password_rules`` (the account's authentication policy: its
    minimum length and strength), so a reset, a change and a forced change all obey the policy.
    """
    failures: list[str] = []
    try:
        password_validation.validate_password(password, user=account)
    except ValidationError as exc:
        failures.extend(exc.messages)
    if account is not None:
        failures.extend(m for m in hooks.password_rule_failures(account, password) if m not in failures)
    if failures:
        raise InvalidPassword(failures)


@transaction.atomic
def account_create(
    *,
    email: str,
    display_name: str,
    password: str | None,
    email_verified: bool = False,
    actor: Actor | None = None,
    org_id: str = "",
    via: str = "signup",
    send_verification_email: bool = True,
    managed_by_caller: bool = False,
) -> Account:
    """Create an account; with an unverified email, queue the verification email.

    ``password=None`` creates an account without a usable password (invited people, bootstrap).
    ``send_verification_email=False`` when the caller sends its own email that proves the address
    (an invitation's one-time sign-in link verifies the email when it is used).
    ``managed_by_caller=True`` when the caller makes the account a managed account of its org
    itself, in this transaction (SCIM): the hooks are told, and the automatic claim is skipped.
    Raises ``EmailTaken``, ``InvalidPassword`` or ``InvalidInput`` (a name over 150 characters).
    """
    email = normalize_email(email)
    display_name = display_name.strip() or email.split("@")[0][:150]
    if len(display_name) > 150:  # the column's limit: PostgreSQL would fail the insert with a 500
        raise InvalidInput("Enter a name of 1 to 150 characters.")
    account = Account(email=email, display_name=display_name)
    account.email_verified = email_verified
    if password is None:
        account.set_unusable_password()
    else:
        password_check(password=password, account=account)
        account.set_password(password)
        account.password_changed_at = timezone.now()
    try:
        # The unique email is the check: a taken email (or a concurrent sign-up's) fails the insert.
        # Nothing runs after the failure: EmailTaken leaves this function's atomic block, which
        # rolls back (to its savepoint when nested), so no savepoint of its own is needed here.
        account.save(force_insert=True)
    except IntegrityError as exc:
        raise EmailTaken() from exc
    event_record(
        action="account:created",
        actor=actor or Actor.account(account),
        org_id=org_id,
        targets=[Target.account(account)],
        details={"via": via},
    )
    hooks.run_account_created(account, managed_by_caller=managed_by_caller)
    if not email_verified and send_verification_email:
        _queue_verification_email(account)
    return account


def account_create_or_found(*, email: str, **create: Any) -> tuple[Account, bool]:
    """``account_create(email=email, **create)``, or the account that took ``email`` meanwhile, locked:
    ``(account, created)``. Call it inside a transaction, after looking ``email`` up and finding none.

    On PostgreSQL a sign-up (or a SCIM create, a just-in-time sign-in) that commits the email after
    the look-up makes the insert wait for it, then fail on the unique email. ``account_create`` rolls
    back to its own savepoint, so the caller's transaction goes on with that account, as if it had
    been there first. Raises ``EmailTaken`` should it be gone again, and what ``account_create`` raises.
    """
    try:
        return account_create(email=email, **create), True
    except EmailTaken:
        found = Account.objects.select_for_update().filter(email=normalize_email(email)).first()
        if found is None:
            raise
        return found, False


@transaction.atomic
def account_staff_set(*, account: Account, staff: bool, actor: Actor) -> bool:
    """Make ``account`` staff of this installation (``Account.is_staff``: the support queue at
    ``/operator/support/``, the operator's billing steps), or no longer; returns whether that
    changed. Records ``system:staff:granted`` or ``system:staff:revoked`` when it did."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    account.is_staff = staff
    if locked.is_staff == staff:
        return False
    locked.is_staff = staff
    locked.save(update_fields=["is_staff"])
    event_record(
        action="system:staff:granted" if staff else "system:staff:revoked",
        actor=actor,
        targets=[Target.account(locked)],
    )
    return True


@transaction.atomic
def account_signup(*, email: str, display_name: str, password: str) -> Account:
    """Self sign-up, when the operator allows it.

    Raises ``SignupDisabled``, ``PasswordNotUsed`` (an org enforces single sign-on for this
    address: its people get their account from the identity provider, at their first sign-in
    through it — a password account made here would be one the IdP never admitted, outside its
    policy), or what ``account_create`` raises.
    """
    if not settings.SIGNUP_ENABLED:
        raise SignupDisabled()
    if not _password_signs_in(email, None):
        raise PasswordNotUsed()
    return account_create(email=email, display_name=display_name, password=password)


def _password_signs_in(email: str, account: Account | None) -> bool:
    # ``signin`` imports this module: imported here, when first needed.
    from orgwarden.accounts.signin import password_signs_in

    return password_signs_in(email, account)


def _queue_verification_email(account: Account) -> None:
    token = signing.dumps({"a": account.account_id, "e": account.email}, salt=EMAIL_VERIFICATION_SALT)
    url = emails.absolute_url(reverse("accounts:verify_email", args=[token]))
    email, name = account.email, account.display_name
    emails.send_after_commit(
        to=email,
        subject="Verify your email address",
        template="accounts/email/verify_email.txt",
        context={"name": name, "url": url},
    )


@transaction.atomic
def email_verification_send(*, account: Account) -> None:
    """Send (again) the link that verifies ``account``'s email."""
    event_record(
        action="account:email:verification_sent",
        actor=Actor.account(account),
        targets=[Target.account(account)],
    )
    _queue_verification_email(account)


def email_verification_account(*, token: str, lock: bool = False) -> Account:
    """The account whose email ``token`` verifies (locked with ``lock``). Raises ``InvalidLink``."""
    try:
        data = signing.loads(token, salt=EMAIL_VERIFICATION_SALT, max_age=EMAIL_VERIFICATION_MAX_AGE)
        accounts = Account.objects.select_for_update() if lock else Account.objects
        return accounts.get(account_id=data["a"], email=data["e"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, Account.DoesNotExist) as exc:
        raise InvalidLink() from exc


def email_verify(*, token: str, signed_in: Account | None = None, password: str = "") -> Account:
    """Mark the email in ``token`` as verified, for the person who created the account.

    The link proves the mailbox, not who set the account's password: someone may have signed up
    with another person's address, and that person, following the link, must not make the
    stranger's password (and whatever else they set) the password of a verified account. So the
    link verifies when it is opened in a session of the account itself, or with the account's
    password (``current_password_confirm``: throttled per account as sign-in is); an account
    without a password needs neither. The mailbox's owner who did not sign up takes the account
    over with a password reset instead, which clears what the stranger set
    (``password_reset_complete``).

    Raises ``InvalidLink``, ``WrongPassword``, ``TooManyAttempts``. Not atomic: the password check
    counts a failure outside the transaction that marks the email (see ``current_password_confirm``).
    """
    account = email_verification_account(token=token)
    if email_verification_asks_password(account=account, signed_in=signed_in):
        current_password_confirm(account=account, password=password)
    return _email_verified_mark(token=token)


def email_verification_asks_password(*, account: Account, signed_in: Account | None) -> bool:
    """Whether verifying ``account``'s email, by whoever is ``signed_in``, takes its password
    (``email_verify`` says why); the page asks for it when this says so."""
    return (
        not account.email_verified
        and account.has_usable_password()
        and (signed_in is None or signed_in.pk != account.pk)
    )


@transaction.atomic
def _email_verified_mark(*, token: str) -> Account:
    account = email_verification_account(token=token, lock=True)
    if not account.email_verified:
        account.email_verified = True
        account.save(update_fields=["email_verified"])
        event_record(
            action="account:email:verified",
            actor=Actor.account(account),
            targets=[Target.account(account)],
        )
    return account


@transaction.atomic
def profile_update(*, account: Account, display_name: str, actor: Actor | None = None) -> Account:
    """Change ``account``'s name. ``actor``: who speaks for the change when it is not the account on
    its own profile page (an identity provider sending the name at sign-in); the account itself is
    refused where something above says so (``hooks.profile_change_refusal``: an org whose identity
    provider sends the name). Raises ``InvalidInput`` or ``ChangeRefused``."""
    if actor is None:
        refusal = hooks.refusal_of_profile_change(account)
        if refusal:
            raise ChangeRefused(refusal)
    display_name = display_name.strip()
    if not display_name or len(display_name) > 150:
        raise InvalidInput("Enter a name of 1 to 150 characters.")
    previous = account.display_name
    if previous == display_name:
        return account
    account.display_name = display_name
    account.save(update_fields=["display_name"])
    event_record(
        action="account:profile:updated",
        actor=actor or Actor.account(account),
        targets=[Target.account(account)],
        details={"changed": {"display_name": {"from": previous, "to": display_name}}},
    )
    return account


def current_password_confirm(*, account: Account, password: str, passwordless_passes: bool = True) -> None:
    """Re-authentication before a sensitive change: return if ``password`` is ``account``'s, else raise.

    Throttled as the sign-in password step is, per account (``throttle.SIGNIN``, which it shares
    with sign-in): a stolen session must not guess the password here without the limit the sign-in
    page puts on a guesser. ``passwordless_passes``: an account without a usable password (invited,
    SSO-only) proves itself by its session alone. Raises ``TooManyAttempts`` (nothing checked) or
    ``WrongPassword`` (the failure counted).

    Not atomic, and callers call it before opening the transaction of their change: the count lives
    in the shared cache — by default the database cache, whose write a rolled-back transaction (the
    change refused with ``WrongPassword``) would take back with it.
    """
    if passwordless_passes and not account.has_usable_password():
        return
    wait = throttle.retry_after(email=account.email)
    if wait:
        raise TooManyAttempts(wait)
    if not account.check_password(password):
        throttle.record_failure(email=account.email)
        raise WrongPassword()


def password_change(
    *, account: Account, current_password: str, new_password: str, keep_session_key: str | None
) -> None:
    """Change a password, ending every other session.

    Raises ``WrongPassword``/``TooManyAttempts`` (``current_password_confirm``), ``InvalidPassword``.
    """
    current_password_confirm(account=account, password=current_password)
    _password_set(account=account, new_password=new_password, keep_session_key=keep_session_key)


@transaction.atomic
def _password_set(*, account: Account, new_password: str, keep_session_key: str | None) -> None:
    password_check(password=new_password, account=account)
    account.set_password(new_password)
    account.password_changed_at = timezone.now()
    account.save(update_fields=["password", "password_changed_at"])
    ended = sessions_delete(account=account, keep_session_key=keep_session_key)
    event_record(
        action="account:password:changed",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"other_sessions_ended": ended},
    )


@transaction.atomic
def password_reset_request(*, email: str) -> None:
    """Email a reset link if an active account has this email. Says nothing either way.

    An account whose org enforces single sign-on (``PasswordNotUsed``) gets an email saying so
    instead of a link: its sign-in never asks for a password, so a new one would change nothing
    but end its sessions — and tell the person to sign in with a password that cannot be used.
    Either email leaves in the background after commit (``emails.send_after_commit_in_background``):
    the answer must not take an SMTP exchange longer when the address has an account.
    """
    try:
        account = Account.objects.get(email=normalize_email(email), status=Account.Status.ACTIVE)
    except Account.DoesNotExist:
        return
    if not _password_signs_in(account.email, account):
        _password_reset_sso_notice(account)
        return
    token = default_token_generator.make_token(account)
    url = emails.absolute_url(reverse("accounts:password_reset_confirm", args=[account.account_id, token]))
    event_record(
        action="account:password:reset_requested",
        actor=Actor.anonymous(account.email),
        targets=[Target.account(account)],
    )
    to, name = account.email, account.display_name
    emails.send_after_commit_in_background(
        to=to,
        subject="Reset your password",
        template="accounts/email/password_reset.txt",
        context={"name": name, "url": url},
    )


def _password_reset_sso_notice(account: Account) -> None:
    event_record(
        action="account:password:reset_requested",
        actor=Actor.anonymous(account.email),
        targets=[Target.account(account)],
        details={"link_sent": False, "reason": "sso_enforced"},
    )
    to, name = account.email, account.display_name
    url = emails.absolute_url(reverse("accounts:login"))
    emails.send_after_commit_in_background(
        to=to,
        subject="Your password is managed by your organization",
        template="accounts/email/password_reset_sso.txt",
        context={"name": name, "url": url},
    )


def password_reset_account(*, account_id: str, token: str) -> Account:
    """The account a reset link is for. Raises ``InvalidLink`` (used, expired or forged), or
    ``PasswordNotUsed`` for a valid link of an account whose org has enforced SSO since it was sent."""
    if "\x00" in account_id:  # from a URL; PostgreSQL refuses NUL in a query (a 500, not a 400)
        raise InvalidLink()
    account = Account.objects.filter(account_id=account_id, status=Account.Status.ACTIVE).first()
    if account is None or not default_token_generator.check_token(account, token):
        raise InvalidLink()
    if not _password_signs_in(account.email, account):
        raise PasswordNotUsed()
    return account


@transaction.atomic
def password_reset_complete(*, account_id: str, token: str, new_password: str) -> Account:
    """Set a new password from a reset link and end every session. The link then stops working.

    The link proves the mailbox. If the email had never been verified, what the account's holder
    set before — its two-step verification, recovery codes and API tokens — may be a squatter's who
    signed up with the address: it is cleared (``account_unverified_take_over``), so the owner is
    neither locked out by someone else's authenticator nor sharing the account with their tokens."""
    account = password_reset_account(account_id=account_id, token=token)
    password_check(password=new_password, account=account)
    ended = sessions_delete(account=account, keep_session_key=None)
    if not account.email_verified:
        account_unverified_take_over(
            account=account, actor=Actor.account(account), org_id="", via="password_reset", email_proven=True
        )
    account.set_password(new_password)
    account.password_changed_at = timezone.now()
    # Resetting by email proves the person reads that mailbox.
    account.email_verified = True
    account.save(update_fields=["password", "password_changed_at", "email_verified"])
    event_record(
        action="account:password:reset",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"sessions_ended": ended},
    )
    return account


@transaction.atomic
def signin_success_record(*, account: Account, method: str) -> None:
    event_record(
        action="account:signin:succeeded",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"method": method},
    )


@transaction.atomic
def signin_failure_record(*, email: str, reason: str, throttled: bool = False) -> None:
    """Record a failed or refused sign-in. The account is named only when it exists."""
    account = Account.objects.filter(email=normalize_email(email)).first()
    event_record(
        action="account:signin:throttled" if throttled else "account:signin:failed",
        actor=Actor.account(account) if account else Actor.anonymous(email),
        targets=[Target.account(account)] if account else [],
        details={"reason": reason, "email": normalize_email(email)[:254]},
    )


@transaction.atomic
def signout_record(*, account: Account) -> None:
    event_record(action="account:signout", actor=Actor.account(account), targets=[Target.account(account)])


def sessions_delete(*, account: Account, keep_session_key: str | None) -> int:
    """End ``account``'s sessions but the one whose key is ``keep_session_key``; returns how many
    ended (in the caller's transaction, whose event says so)."""
    sessions = Session.objects.filter(account=account)
    if keep_session_key:
        sessions = sessions.exclude(session_key=stored_session_key(keep_session_key))
    deleted, _ = sessions.delete()
    return deleted


@transaction.atomic
def session_end(*, account: Account, session_id: str) -> None:
    """End one of ``account``'s own sessions, named by its stored form (``Session.session_key``, what
    the sessions page shows; never the cookie's key). Raises ``SessionNotFound`` for anyone else's."""
    if "\x00" in session_id:  # from a URL; PostgreSQL refuses NUL in a query
        raise SessionNotFound()
    session = Session.objects.filter(account=account, session_key=session_id).first()
    if session is None:
        raise SessionNotFound()
    session.delete()
    event_record(
        action="account:session:ended",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"session_created_at": session.created_at.isoformat(), "ip": session.ip},
    )


@transaction.atomic
def sessions_end_all(
    *, account: Account, actor: Actor, org_id: str = "", keep_session_key: str | None = None
) -> int:
    """End every session of ``account`` (but ``keep_session_key``); returns how many ended.

    Admins call it with themselves as ``actor`` and their org's id (Directory issue). With no
    session to end nothing changed, so nothing is recorded (a click sent twice records one event).
    """
    ended = sessions_delete(account=account, keep_session_key=keep_session_key)
    if not ended:
        return 0
    event_record(
        action="account:sessions:ended_all",
        actor=actor,
        org_id=org_id,
        targets=[Target.account(account)],
        details={"sessions_ended": ended, "kept_current": keep_session_key is not None},
    )
    return ended


@transaction.atomic
def signin_link_create(*, account: Account, actor: Actor, org_id: str = "", supersede: bool = False) -> str:
    """Create a one-time sign-in link for ``account`` and return its URL (shown once).

    ``supersede``: the new link replaces the account's earlier ones — each unused one that has not
    expired yet expires now, so only the newest email's link works (an invitation sent again:
    a copy of the earlier email forwarded, or sitting in a mailbox someone else reads, signs
    nobody in). An expired link stays a row, which is what makes the account "invited"
    (``selectors.invited_not_signed_in`` reads when links were made, not whether they work).
    """
    now = timezone.now()
    superseded = 0
    if supersede:
        superseded = SignInLink.objects.filter(
            account=account, used_at__isnull=True, expires_at__gt=now
        ).update(expires_at=now)
    token = new_secret()
    SignInLink.objects.create(
        account=account,
        token_hash=secret_hash(token),
        expires_at=now + SIGNIN_LINK_LIFETIME,
    )
    details: dict[str, int] = {"expires_in_hours": int(SIGNIN_LINK_LIFETIME.total_seconds() // 3600)}
    if supersede:
        details["superseded_links"] = superseded
    event_record(
        action="account:signin_link:created",
        actor=actor,
        org_id=org_id,
        targets=[Target.account(account)],
        details=details,
    )
    return emails.absolute_url(reverse("accounts:signin_link", args=[token]))


@transaction.atomic
def signin_link_consume(*, token: str) -> Account:
    """Burn a sign-in link and return its account. Raises ``InvalidLink`` if used, expired or unknown."""
    link = (
        SignInLink.objects.select_for_update()
        .select_related("account")
        .filter(token_hash=secret_hash(token), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if link is None or not link.account.is_active:
        raise InvalidLink()
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    account = link.account
    if not account.email_verified:
        # The link was delivered to this address (or handed out by the operator who set it up).
        account.email_verified = True
        account.save(update_fields=["email_verified"])
    event_record(
        action="account:signin_link:used",
        actor=Actor.account(link.account),
        targets=[Target.account(link.account)],
    )
    return link.account


# --- an org taking over an account whose email was never verified -----------------------------------


@transaction.atomic
def account_unverified_take_over(
    *,
    account: Account,
    actor: Actor,
    org_id: str,
    via: str,
    email_proven: bool = False,
    signin_link_for_org: str = "",
) -> bool:
    """Stop trusting what whoever created ``account`` set on it, when an org takes it over before
    its email was ever verified. Returns ``False`` (and changes nothing) for a verified email.

    Why (account pre-hijacking): anyone may sign up with an address they do not own. Until the
    address is verified, the account's password, sessions, two-step verification and API tokens
    belong to whoever signed up — not necessarily the person the org means when it invites that
    address (``orgs.services.access.user_invite``), provisions or links it from its identity
    provider (SCIM, a SAML sign-in), or claims it on its verified domain. So, as Atlassian, Okta
    and Auth0 do, an org taking over an unverified account resets it: the password is made
    unusable (which also voids the email-change links asked for with it), two-step verification
    and its recovery codes are removed (they may be a squatter's authenticator), every session
    ends and its API tokens are revoked (``hooks.unverified_credentials_revoke``). The account
    itself (its id, its memberships) stays: nobody but the address's owner gets in again.

    The real person gets in by proving the address: ``email_proven`` when the caller vouches for
    it itself (an identity provider speaking for the org's verified domain: the email is marked
    verified, the person signs in through the IdP); ``signin_link_for_org`` (the org's name) emails
    a one-time sign-in link to the address, which verifies it and leads to choosing a password
    (a domain claim); an invitation puts that link in its own email instead (neither is passed).
    Verified accounts are untouched: their owner proved the address. Records
    ``account:unverified:credentials_cleared``.
    """
    if account.email_verified:  # the common case, decided without taking the row's lock: a caller
        return False  # that locks groups or identities next would otherwise deadlock with a racer
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if locked.email_verified:
        return False
    had_password, had_two_step = locked.has_usable_password(), locked.has_two_step
    account.set_unusable_password()
    account.totp_secret, account.totp_last_step, account.totp_enabled_at = "", None, None
    account.email_verified = email_proven
    account.save(
        update_fields=["password", "totp_secret", "totp_last_step", "totp_enabled_at", "email_verified"]
    )
    RecoveryCode.objects.filter(account=account).delete()
    ended = sessions_delete(account=account, keep_session_key=None)
    revoked = hooks.run_unverified_credentials_revoke(account)
    event_record(
        action="account:unverified:credentials_cleared",
        actor=actor,
        org_id=org_id,
        targets=[Target.account(account)],
        details={
            "via": via,
            "password_cleared": had_password,
            "two_step_cleared": had_two_step,
            "sessions_ended": ended,
            "api_tokens_revoked": revoked,
            "email_verified_by_caller": email_proven,
        },
    )
    if signin_link_for_org:
        url = signin_link_create(account=account, actor=actor, org_id=org_id)
        context = {
            "name": account.display_name,
            "org_name": signin_link_for_org,
            "url": url,
            "hours": int(SIGNIN_LINK_LIFETIME.total_seconds() // 3600),
        }
        to = account.email
        emails.send_after_commit(
            to=to,
            subject=f"{signin_link_for_org} now manages your account: choose a password",
            template="accounts/email/unverified_taken_over.txt",
            context=context,
        )
    return True


# --- changing one's email, closing one's account ------------------------------------------------------


def _password_stamp(account: Account) -> str:
    """What an email-change link carries of the account's password hash: a new password — or an org
    clearing a squatter's (``account_unverified_take_over``) — voids the links asked for before it,
    so nobody moves the account to an address of theirs with a link they asked for earlier."""
    return salted_hmac(EMAIL_CHANGE_SALT, account.password).hexdigest()[:32]


def _new_email_check(account: Account, new_email: str) -> str:
    from django.core.validators import validate_email

    new_email = normalize_email(new_email)
    try:
        validate_email(new_email)
    except ValidationError as exc:
        raise InvalidInput("Enter a valid email address.") from exc
    if new_email == account.email:
        raise InvalidInput("This is already your email address.")
    if Account.objects.filter(email=new_email).exists():
        raise EmailTaken("Another account already uses this email address.")
    refusal = hooks.refusal_of_email_change(account, new_email)
    if refusal:
        raise ChangeRefused(refusal)
    return new_email


def email_change_request(*, account: Account, new_email: str, current_password: str) -> str:
    """Email a confirmation link to ``new_email``; the email changes only when it is followed.

    Returns the normalised new address. Records ``account:email:verification_sent`` (purpose
    "change"). Raises ``WrongPassword`` or ``TooManyAttempts`` (``current_password_confirm``),
    ``InvalidInput``, ``EmailTaken`` or ``ChangeRefused`` (an org managing the account allows only
    its verified domains).
    """
    current_password_confirm(account=account, password=current_password)
    return _email_change_link_send(account=account, new_email=new_email)


@transaction.atomic
def _email_change_link_send(*, account: Account, new_email: str) -> str:
    new_email = _new_email_check(account, new_email)
    token = signing.dumps(
        {"a": account.account_id, "o": account.email, "n": new_email, "p": _password_stamp(account)},
        salt=EMAIL_CHANGE_SALT,
    )
    url = emails.absolute_url(reverse("accounts:email_change_confirm", args=[token]))
    event_record(
        action="account:email:verification_sent",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"purpose": "change", "new_email": new_email},
    )
    name, hours = account.display_name, int(EMAIL_CHANGE_MAX_AGE.total_seconds() // 3600)
    emails.send_after_commit(
        to=new_email,
        subject="Confirm your new email address",
        template="accounts/email/email_change.txt",
        context={"name": name, "url": url, "new_email": new_email, "hours": hours},
    )
    return new_email


@transaction.atomic
def email_change_confirm(*, token: str, keep_session_key: str | None = None) -> Account:
    """Change the account's email to the one in ``token`` (from the link sent to it).

    Ends every session but ``keep_session_key`` (the one that followed the link, if it is the
    account's own), tells the old address, and records ``account:email:changed``. The rules are
    checked again: a domain may have been unverified since. The link works once (it names the old
    email) and only while the password is the one it was asked with (``_password_stamp``). Raises
    ``InvalidLink``, ``EmailTaken`` or ``ChangeRefused``.
    """
    try:
        data = signing.loads(token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE)
        account = Account.objects.select_for_update().get(
            account_id=data["a"], email=data["o"], status=Account.Status.ACTIVE
        )
        new_email = str(data["n"])
        if not constant_time_compare(str(data["p"]), _password_stamp(account)):
            raise InvalidLink()
    except (signing.BadSignature, KeyError, TypeError, Account.DoesNotExist) as exc:
        raise InvalidLink() from exc
    new_email = _new_email_check(account, new_email)
    old_email = account.email
    account.email = new_email
    account.email_verified = True  # the link came to the new address
    try:
        with transaction.atomic():
            account.save(update_fields=["email", "email_verified"])
    except IntegrityError as exc:  # someone took the address meanwhile
        raise EmailTaken("Another account already uses this email address.") from exc
    hooks.run_account_email_changed(account, old_email)
    ended = sessions_delete(account=account, keep_session_key=keep_session_key)
    event_record(
        action="account:email:changed",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"from": old_email, "to": new_email, "other_sessions_ended": ended},
    )
    name = account.display_name
    emails.send_after_commit(
        to=old_email,
        subject="Your email address was changed",
        template="accounts/email/email_changed.txt",
        context={"name": name, "old_email": old_email, "new_email": new_email},
    )
    return account


def account_close(*, account: Account, current_password: str) -> None:
    """Close one's own account: it can no longer sign in, and every session ends.

    Records ``account:closed``. Raises ``WrongPassword`` or ``TooManyAttempts``
    (``current_password_confirm``), or ``ChangeRefused`` (an org manages the account: its admins
    delete it).
    """
    current_password_confirm(account=account, password=current_password)
    _account_close(account=account)


@transaction.atomic
def _account_close(*, account: Account) -> None:
    refusal = hooks.refusal_of_close(account)
    if refusal:
        raise ChangeRefused(refusal)
    account = Account.objects.select_for_update().get(pk=account.pk)
    account.status = Account.Status.CLOSED
    account.save(update_fields=["status"])
    ended = sessions_delete(account=account, keep_session_key=None)
    event_record(
        action="account:closed",
        actor=Actor.account(account),
        targets=[Target.account(account)],
        details={"sessions_ended": ended},
    )
