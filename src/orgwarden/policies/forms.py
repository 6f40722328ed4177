"""Console forms of Security → Authentication policies. They parse; the services decide the rules."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from orgwarden.humanize import minutes_in_words
from orgwarden.orgs.models import Directory
from orgwarden.policies.models import DAY, AuthenticationPolicy
from orgwarden.policies.services import MOVE_MAX

PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,24}$")
STRENGTH_CHOICES = [
    (0, "0 — no score: only the basic rules (not common, not all digits, not like the name)"),
    (1, "1 — very guessable passwords refused"),
    (2, "2 — somewhat guessable refused"),
    (3, "3 — safely unguessable (recommended)"),
    (4, "4 — very unguessable"),
]
EXPIRY_CHOICES = [(0, "Never"), (30, "30 days"), (60, "60 days"), (90, "90 days"), (180, "180 days"),
                  (365, "365 days")]  # fmt: skip
# Session limits offered as durations in words (``humanize.minutes_in_words``); stored, and taken by
# the REST API, in minutes. Atlassian's steps, within what ``services.settings_validate`` allows
# (idle: 15 minutes to 30 days; absolute: up to 90 days, and not shorter than idle). A policy whose
# limit is none of these (set through the API) is offered its own value too, so saving the page
# leaves it as it is.
HOUR = 60
IDLE_SESSION_MINUTES = (15, 30, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR,
                        DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY)  # fmt: skip
ABSOLUTE_SESSION_MINUTES = (*IDLE_SESSION_MINUTES, 60 * DAY, 90 * DAY)


def _bounds_errors(what: str, unit: str, low: str, high: str) -> dict[str, str]:
    """Django's number errors (``Ensure this value is greater than or equal to 15.``) in the
    console's words, naming the setting and its unit."""
    setting = what[0].lower() + what[1:]
    return {
        "required": f"Enter the {setting}.",
        "invalid": f"Enter the {setting} as a whole number of {unit}.",
        "min_value": f"{what} must be at least {low}.",
        "max_value": f"{what} can be at most {high}.",
    }


def _duration_choices(offered: tuple[int, ...], current: int | None) -> list[tuple[int, str]]:
    """``offered`` (minutes) in words, with ``current`` among them in its place when it is not."""
    values = sorted({*offered, *([current] if isinstance(current, int) else [])})
    return [(minutes, minutes_in_words(minutes)) for minutes in values]


def _duration_errors(what: str) -> dict[str, str]:
    return {"required": f"Choose the {what}.", "invalid_choice": f"Choose the {what} from the list."}


class PolicyCreateForm(forms.Form):
    directory = forms.ChoiceField(label="Directory")
    name = forms.CharField(label="Policy name", max_length=100)

    def __init__(self, *args, directories: list[Directory], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["directory"].choices = [(d.directory_id, d.name) for d in directories]
        if len(directories) == 1:
            self.fields["directory"].initial = directories[0].directory_id


class PolicyRenameForm(forms.Form):
    name = forms.CharField(label="Policy name", max_length=100)


class PolicySettingsForm(forms.Form):
    """The settings, grouped as the page shows them (``GROUPS``)."""

    two_step = forms.ChoiceField(
        label="Two-step verification",
        choices=AuthenticationPolicy.TwoStep.choices,
        widget=forms.RadioSelect,
        help_text="Mandatory: members without an authenticator app set one up at their next sign-in.",
    )
    password_min_length = forms.IntegerField(
        label="Minimum length", min_value=8, max_value=100,
        error_messages=_bounds_errors(
            "Minimum password length", "characters", "8 characters", "100 characters"
        ),
    )  # fmt: skip
    password_min_strength = forms.TypedChoiceField(
        label="Minimum strength", choices=STRENGTH_CHOICES, coerce=int,
        help_text="Scored by zxcvbn when a password is set, changed or reset.",
    )  # fmt: skip
    password_expiry_days = forms.TypedChoiceField(
        label="Passwords expire after", choices=EXPIRY_CHOICES, coerce=int,
        help_text="An expired password is replaced at the next sign-in.",
    )  # fmt: skip
    idle_session_minutes = forms.TypedChoiceField(
        label="Idle session limit", coerce=int, error_messages=_duration_errors("idle session limit"),
        help_text="Signed out after this long without activity.",
    )  # fmt: skip
    absolute_session_minutes = forms.TypedChoiceField(
        label="Absolute session limit", coerce=int,
        error_messages=_duration_errors("absolute session limit"),
        help_text="Signed out this long after signing in, whatever the activity; at least the idle limit.",
    )  # fmt: skip
    api_tokens_allowed = forms.BooleanField(label="Members may create API tokens", required=False)
    api_token_max_days = forms.IntegerField(
        label="Maximum API token lifetime (days)", min_value=1, max_value=365,
        error_messages=_bounds_errors("Maximum API token lifetime", "days", "1 day", "365 days"),
    )  # fmt: skip
    billable = forms.BooleanField(
        label="Billable", required=False,
        help_text="Only the local directory's default policy can be non-billable.",
    )  # fmt: skip
    enforce_sso = forms.BooleanField(
        label="Enforce single sign-on", required=False,
        help_text="Connect an identity provider first: SSO can be enforced only for its directory.",
    )  # fmt: skip

    GROUPS = (
        ("Two-step verification", ("two_step",)),
        ("Passwords", ("password_min_length", "password_min_strength", "password_expiry_days")),
        ("Sessions", ("idle_session_minutes", "absolute_session_minutes")),
        ("API tokens", ("api_tokens_allowed", "api_token_max_days")),
        ("Billing", ("billable",)),
        ("Single sign-on", ("enforce_sso",)),
    )

    def __init__(self, *args, policy: AuthenticationPolicy, **kwargs) -> None:
        initial = {name: getattr(policy, name) for name in self.base_fields}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["idle_session_minutes"].choices = _duration_choices(
            IDLE_SESSION_MINUTES, policy.idle_session_minutes
        )
        self.fields["absolute_session_minutes"].choices = _duration_choices(
            ABSOLUTE_SESSION_MINUTES, policy.absolute_session_minutes
        )
        if not (policy.is_default and policy.directory.kind == Directory.Kind.LOCAL):
            self.fields["billable"].disabled = True
        if policy.directory.kind != Directory.Kind.IDP:
            self.fields["enforce_sso"].disabled = True
        else:
            self.fields["enforce_sso"].help_text = "Members sign in through the identity provider."

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.GROUPS]


class AccountIdsField(forms.Field):
    """Account ids from the members table's checkboxes (``name="account_ids"``)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        if len(value) > MOVE_MAX:
            raise ValidationError(f"Move at most {MOVE_MAX} accounts at a time.")
        if any(not PUBLIC_ID.match(v) for v in value):
            raise ValidationError("Choose accounts from the list.")


class MembersMoveForm(forms.Form):
    account_ids = AccountIdsField(
        label="Accounts", error_messages={"required": "Choose at least one account."}
    )
    policy = forms.ChoiceField(label="Move the selected accounts to")

    def __init__(self, *args, policies: list[AuthenticationPolicy], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["policy"].choices = [(p.policy_id, p.name) for p in policies]


class BreakGlassAddForm(forms.Form):
    account_id = forms.ChoiceField(label="Admin")

    def __init__(self, *args, candidates: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account_id"].choices = [
            (role.account.account_id, f"{role.account.display_name} ({role.account.email})")
            for role in candidates
        ]


class CheckUserForm(forms.Form):
    email = forms.EmailField(label="Email of a managed account", max_length=254)
