"""The policy's password rules: a minimum length and a minimum zxcvbn strength score.

Registered into ``accounts.hooks.password_rules`` by ``PoliciesConfig.ready()``, so every place a
password is set for an existing account (change, reset, the expired-password step) checks them.
Sign-up can't: the account is not managed yet, so no policy applies to it.

zxcvbn scores 0 (guessable in under 10^3 tries) to 4 (over 10^10); it is given the account's email
and name so a password made of them scores low. Its cost grows with the length, so only the first
``ZXCVBN_MAX`` characters are scored (a longer password has already passed any length rule).
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from orgwarden.accounts.models import Account
from orgwarden.policies.selectors import policy_for

ZXCVBN_MAX = 100
STRENGTH_WORDS = {0: "too guessable", 1: "very guessable", 2: "somewhat guessable", 3: "safely unguessable",
                  4: "very unguessable"}  # fmt: skip


def strength(password: str, *, account: Account | None = None) -> int:
    """The zxcvbn score (0–4) of ``password``, with the account's email and name as known words."""
    inputs = [account.email, account.display_name, account.email.split("@")[0]] if account else []
    return int(zxcvbn(password[:ZXCVBN_MAX], user_inputs=[i for i in inputs if i])["score"])


def policy_password_failures(account: Account, password: str) -> list[str]:
    """``accounts.hooks.password_rules``: what ``password`` lacks under ``account``'s policy."""
    policy = policy_for(account)
    if policy is None:
        return []
    failures = []
    if len(password) < policy.password_min_length:
        failures.append(
            f"{policy.name} of {policy.org.name} requires a password of at least "
            f"{policy.password_min_length} characters."
        )
    if policy.password_min_strength and strength(password, account=account) < policy.password_min_strength:
        failures.append(
            f"This password is too easy to guess: {policy.name} of {policy.org.name} requires a "
            f"stronger one. Use a longer phrase of unrelated words."
        )
    return failures
