"""Security → Authentication policies in the console: pages, forms, 400s, 404s across orgs."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor
from orgwarden.orgs.models import OrgUser
from orgwarden.orgs.services.claims import account_claim, local_directory
from orgwarden.orgs.tests.factories import OrgAdminFactory
from orgwarden.policies import services
from orgwarden.policies.models import AuthenticationPolicy, BreakGlassAdmin, PolicyMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_policy(org):
    return services.default_policy_create(local_directory(org))


@pytest.fixture
def managed(org, default_policy):
    account = AccountFactory(email="dana@acme.test")
    account_claim(org=org, account=account, domain=None, actor=Actor.system())
    return account


def base(org) -> str:
    return f"/admin/o/{org.org_id}/policies/"


def test_the_list_shows_each_directory_with_its_default_first(admin_client, org, default_policy, managed):
    response = admin_client.get(base(org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Default policy" in html and "Local directory" in html and "Break-glass admins" in html
    assert 'style="' not in html and "<script>" not in html
    row = response.context["directories"][0].policies[0]
    assert row.policy == default_policy and row.member_count == 1
    home = admin_client.get(f"/admin/o/{org.org_id}/")
    assert base(org).encode() in home.content  # the navigation links here now


def test_create_a_policy(admin_client, org, default_policy):
    directory = local_directory(org)
    response = admin_client.post(base(org), {"directory": directory.directory_id, "name": "Contractors"})
    policy = AuthenticationPolicy.objects.get(org=org, name="Contractors")
    assert response.status_code == 302 and response["Location"] == f"{base(org)}{policy.policy_id}/"
    assert AuditEvent.objects.filter(action="org:policy:created", org_id=org.org_id).count() == 1
    taken = admin_client.post(base(org), {"directory": directory.directory_id, "name": "contractors"})
    assert taken.status_code == 400 and b"already has this name" in taken.content
    empty = admin_client.post(base(org), {"directory": directory.directory_id, "name": ""})
    assert empty.status_code == 400
    assert AuthenticationPolicy.objects.filter(org=org).count() == 2


def _settings(policy, **changes):
    data = {
        "two_step": policy.two_step,
        "password_min_length": policy.password_min_length,
        "password_min_strength": policy.password_min_strength,
        "password_expiry_days": policy.password_expiry_days,
        "idle_session_minutes": policy.idle_session_minutes,
        "absolute_session_minutes": policy.absolute_session_minutes,
        "api_token_max_days": policy.api_token_max_days,
        "api_tokens_allowed": "on",
        "billable": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_save_settings_and_bad_settings_are_a_400(admin_client, org, default_policy):
    url = f"{base(org)}{default_policy.policy_id}/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"Connect an identity provider first" in page.content
    ok = admin_client.post(url, _settings(default_policy, two_step="mandatory", idle_session_minutes=60))
    assert ok.status_code == 302
    default_policy.refresh_from_db()
    assert default_policy.two_step == "mandatory" and default_policy.idle_session_minutes == 60
    for bad in (
        _settings(default_policy, idle_session_minutes=5),
        _settings(default_policy, idle_session_minutes=600, absolute_session_minutes=60),
        _settings(default_policy, password_expiry_days=45),
        _settings(default_policy, password_min_length="x"),
    ):
        response = admin_client.post(url, bad)
        assert response.status_code == 400, bad
    assert AuditEvent.objects.filter(action="org:policy:updated").count() == 1
    # SSO can't be switched on for the local directory: the field is disabled, its value ignored.
    admin_client.post(url, _settings(default_policy, enforce_sso="on"))
    default_policy.refresh_from_db()
    assert default_policy.enforce_sso is False


def test_the_list_shows_session_limits_in_words(admin_client, org, default_policy):
    default_policy.idle_session_minutes = 480
    default_policy.absolute_session_minutes = 43200
    default_policy.save()
    html = admin_client.get(base(org)).content.decode()
    assert "8 hours idle" in html and "30 days max" in html
    assert "480 min" not in html and "43200" not in html


def _options(html: str, name: str) -> list[tuple[str, str, bool]]:
    """``(value, label, selected)`` of the options of the select named ``name``."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [
        (value, unescape(label), bool(selected))
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select
        )
    ]


def test_session_limits_are_chosen_in_words(admin_client, org, default_policy):
    """The policy's page offered two boxes of raw minutes ("43200"): an admin picks "8 hours" or
    "30 days" from a list; the policy and the REST API keep minutes."""
    url = f"{base(org)}{default_policy.policy_id}/"
    html = admin_client.get(url).content.decode()
    idle = _options(html, "idle_session_minutes")
    absolute = _options(html, "absolute_session_minutes")
    assert [label for _v, label, _s in idle] == [
        "15 minutes", "30 minutes", "1 hour", "2 hours", "4 hours", "8 hours", "12 hours",
        "1 day", "3 days", "7 days", "14 days", "30 days",
    ]  # fmt: skip
    assert [label for _v, label, _s in absolute][-4:] == ["14 days", "30 days", "60 days", "90 days"]
    assert [(v, label) for v, label, selected in idle if selected] == [("43200", "30 days")]
    assert [(v, label) for v, label, selected in absolute if selected] == [("43200", "30 days")]
    assert '<label for="id_idle_session_minutes">Idle session limit</label>' in html
    assert "(minutes)" not in html and 'type="number" name="idle_session_minutes"' not in html
    # What is offered is what the policy's rules allow.
    for value, _label, _selected in idle + absolute:
        services.settings_validate(
            default_policy, {"idle_session_minutes": 15, "absolute_session_minutes": value}
        )
    for value, _label, _selected in idle:
        services.settings_validate(default_policy, {"idle_session_minutes": value})
    ok = admin_client.post(
        url, _settings(default_policy, idle_session_minutes=480, absolute_session_minutes=10080)
    )
    assert ok.status_code == 302
    default_policy.refresh_from_db()
    assert (default_policy.idle_session_minutes, default_policy.absolute_session_minutes) == (480, 10080)
    html = admin_client.get(url).content.decode()
    assert [label for _v, label, s in _options(html, "idle_session_minutes") if s] == ["8 hours"]
    assert [label for _v, label, s in _options(html, "absolute_session_minutes") if s] == ["7 days"]


def test_a_session_limit_that_is_not_offered_shows_and_saves_unchanged(admin_client, org, default_policy):
    """A limit set through the REST API (45 minutes, 100 hours) is none of the choices: the page
    shows it in words, in its place, and saving another setting leaves it as it was."""
    services.policy_update(
        org=org,
        actor=org.admins.first().account,
        policy_id=default_policy.policy_id,
        settings={"idle_session_minutes": 45, "absolute_session_minutes": 6000},
    )
    default_policy.refresh_from_db()
    url = f"{base(org)}{default_policy.policy_id}/"
    html = admin_client.get(url).content.decode()
    idle = _options(html, "idle_session_minutes")
    assert [label for _v, label, _s in idle][1:4] == ["30 minutes", "45 minutes", "1 hour"]
    assert [(v, label) for v, label, s in idle if s] == [("45", "45 minutes")]
    absolute = _options(html, "absolute_session_minutes")
    assert [(v, label) for v, label, s in absolute if s] == [("6000", "100 hours")]
    response = admin_client.post(url, _settings(default_policy, two_step="mandatory"))
    assert response.status_code == 302
    default_policy.refresh_from_db()
    assert default_policy.two_step == "mandatory"
    assert (default_policy.idle_session_minutes, default_policy.absolute_session_minutes) == (45, 6000)
    # Another value that is not offered is refused, in words.
    refused = admin_client.post(url, _settings(default_policy, idle_session_minutes=50))
    assert refused.status_code == 400
    assert "Choose the idle session limit from the list." in refused.content.decode()


def test_the_list_has_a_single_sign_on_column(admin_client, org, org_admin, default_policy):
    """The intro names single sign-on among the rules: it is a column like two-step verification,
    not a badge beside the name."""
    strict = services.policy_create(
        org=org, actor=org_admin.account, directory_id=default_policy.directory.directory_id, name="Strict"
    )
    AuthenticationPolicy.objects.filter(pk=strict.pk).update(enforce_sso=True, two_step="mandatory")
    html = admin_client.get(base(org)).content.decode()
    headers = re.findall(r'<th scope="col">([^<]*)</th>', html.split("<tbody>")[0])
    assert headers[:6] == ["Policy", "Members", "Single sign-on", "Two-step", "Sessions", "Billing"]
    cells = {
        name: re.findall(r"<td>(.*?)</td>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1].split("</tbody>")[0], re.S)
        for name in re.findall(r">(Default policy|Strict)</a>", row)
    }
    assert cells["Strict"][2] == '<span class="badge badge-success">Enforced</span>'
    assert cells["Default policy"][2] == '<span class="badge badge-muted">Optional</span>'
    assert "SSO enforced" not in html


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"idle_session_minutes": 5}, "Choose the idle session limit from the list."),
        ({"idle_session_minutes": 50000}, "Choose the idle session limit from the list."),
        ({"absolute_session_minutes": 1}, "Choose the absolute session limit from the list."),
        ({"absolute_session_minutes": "x"}, "Choose the absolute session limit from the list."),
        ({"password_min_length": 4}, "Minimum password length must be at least 8 characters."),
        ({"api_token_max_days": 400}, "Maximum API token lifetime can be at most 365 days."),
    ],
)
def test_a_bad_number_in_the_settings_says_what_and_its_unit(
    admin_client, org, default_policy, changes, error
):
    url = f"{base(org)}{default_policy.policy_id}/"
    response = admin_client.post(url, _settings(default_policy, **changes))
    assert response.status_code == 400
    html = response.content.decode()
    assert error in html and "Ensure this value" not in html


def test_rename_delete_and_the_default_is_protected(admin_client, org, default_policy, managed):
    policy = services.policy_create(
        org=org,
        actor=org.admins.first().account,
        directory_id=local_directory(org).directory_id,
        name="Strict",
    )
    url = f"{base(org)}{policy.policy_id}/"
    assert admin_client.post(url + "rename", {"name": "Stricter"}).status_code == 302
    assert admin_client.post(url + "rename", {"name": ""}).status_code == 400
    services.policy_members_move(
        org=org,
        actor=org.admins.first().account,
        policy_id=policy.policy_id,
        account_ids=[managed.account_id],
    )
    confirm = admin_client.get(url + "delete")
    assert confirm.status_code == 200 and b"1 member goes back" in confirm.content
    assert admin_client.post(url + "delete").status_code == 302
    assert not AuthenticationPolicy.objects.filter(pk=policy.pk).exists()
    assert not PolicyMember.objects.exists()
    protected = admin_client.post(f"{base(org)}{default_policy.policy_id}/delete", follow=True)
    assert b"default policy can&#x27;t be deleted" in protected.content
    assert protected.redirect_chain[-1][0] == f"{base(org)}{default_policy.policy_id}/"
    asked = admin_client.get(f"{base(org)}{default_policy.policy_id}/delete", follow=True)
    assert b"default policy can&#x27;t be deleted" in asked.content and b"Delete policy" not in asked.content
    assert AuthenticationPolicy.objects.filter(pk=default_policy.pk).exists()


def test_members_have_checkboxes_only_when_there_is_a_policy_to_move_them_to(
    admin_client, org, default_policy, managed
):
    """With the directory's one policy, the members table had checkboxes that nothing used: they,
    and the move form, come with a second policy; until then the line says how to get one."""
    url = f"{base(org)}{default_policy.policy_id}/"
    members = admin_client.get(url).content.decode().split('id="members-heading"')[1].split("</section>")[0]
    assert managed.email in members  # the members are still listed
    assert 'type="checkbox"' not in members and "<form" not in members
    assert "Move selected" not in members and '<span class="sr-only">Select</span>' not in members
    assert "Create another policy for Local directory to move accounts between policies." in members
    services.policy_create(
        org=org,
        actor=org.admins.first().account,
        directory_id=local_directory(org).directory_id,
        name="Strict",
    )
    members = admin_client.get(url).content.decode().split('id="members-heading"')[1].split("</section>")[0]
    assert f'type="checkbox" name="account_ids" value="{managed.account_id}"' in members
    assert "Move selected" in members and "Create another policy" not in members


def test_move_members_with_the_bulk_form(admin_client, org, default_policy, managed):
    policy = services.policy_create(
        org=org,
        actor=org.admins.first().account,
        directory_id=local_directory(org).directory_id,
        name="Strict",
    )
    url = f"{base(org)}{default_policy.policy_id}/"
    page = admin_client.get(url)
    assert managed.email.encode() in page.content
    moved = admin_client.post(
        url + "members", {"account_ids": [managed.account_id], "policy": policy.policy_id}
    )
    assert moved.status_code == 302
    assert PolicyMember.objects.get(account=managed).policy == policy
    stranger = AccountFactory()
    refused = admin_client.post(
        f"{base(org)}{policy.policy_id}/members",
        {"account_ids": [stranger.account_id], "policy": default_policy.policy_id},
    )
    assert refused.status_code == 400 and b"not managed" in refused.content
    nothing = admin_client.post(
        f"{base(org)}{policy.policy_id}/members", {"policy": default_policy.policy_id}
    )
    assert nothing.status_code == 400
    bogus = admin_client.post(url + "members", {"account_ids": ["<script>"], "policy": policy.policy_id})
    assert bogus.status_code == 400
    assert PolicyMember.objects.get(account=managed).policy == policy


def test_members_list_pages_by_email(admin_client, org, default_policy):
    for i in range(55):
        account = AccountFactory(email=f"p{i:02d}@acme.test")
        account_claim(org=org, account=account, domain=None, actor=Actor.system())
    url = f"{base(org)}{default_policy.policy_id}/"
    first = admin_client.get(url)
    assert len(first.context["members"].rows) == 50
    cursor = first.context["members"].next_cursor
    second = admin_client.get(url, {"after": cursor})
    assert [u.email for u in second.context["members"].rows] == [f"p{i:02d}@acme.test" for i in range(50, 55)]
    assert admin_client.get(url, {"after": "!!!"}).status_code == 200


def test_another_orgs_policy_is_a_404(admin_client, org, default_policy, other_org_admin):
    theirs = services.default_policy_create(local_directory(other_org_admin.org))
    for path in ("", "rename", "delete", "members"):
        url = f"{base(org)}{theirs.policy_id}/{path}"
        response = admin_client.post(url, {"name": "x"}) if path else admin_client.get(url)
        assert response.status_code == 404, path
    their_person = AccountFactory()
    account_claim(org=other_org_admin.org, account=their_person, domain=None, actor=Actor.system())
    their_reset = f"{base(org)}accounts/{their_person.account_id}/reset-two-step"
    assert admin_client.post(their_reset).status_code == 404
    assert admin_client.get(their_reset).status_code == 404  # its confirmation too
    other = Client()
    other.force_login(other_org_admin.account, backend="orgwarden.accounts.backends.AccountBackend")
    assert other.get(base(org)).status_code == 404


def test_break_glass_add_and_remove_in_the_console(admin_client, org, org_admin, default_policy):
    second = OrgAdminFactory(org=org).account
    response = admin_client.post(base(org) + "break-glass", {"account_id": second.account_id})
    assert response.status_code == 302
    assert BreakGlassAdmin.objects.filter(org=org, account=second).exists()
    not_admin = admin_client.post(base(org) + "break-glass", {"account_id": AccountFactory().account_id})
    assert not_admin.status_code == 400
    removed = admin_client.post(f"{base(org)}break-glass/{second.account_id}/remove")
    assert removed.status_code == 302 and not BreakGlassAdmin.objects.exists()
    again = admin_client.post(f"{base(org)}break-glass/{second.account_id}/remove")  # sent twice
    assert again.status_code == 302 and again["Location"] == base(org)
    assert AuditEvent.objects.filter(action__startswith="org:break_glass:").count() == 2


def test_check_a_user(admin_client, org, default_policy, managed):
    url = base(org) + "check"
    assert admin_client.get(url).status_code == 200
    found = admin_client.get(url, {"email": "DANA@acme.test"})
    assert found.status_code == 200
    html = found.content.decode()
    assert "Default policy" in html and "Two-step verification" in html and "Sessions" in html
    assert found.context["explanation"].policy == default_policy
    unknown = admin_client.get(url, {"email": "nobody@acme.test"})
    assert unknown.status_code == 400 and b"doesn" in unknown.content
    assert admin_client.get(url, {"email": "not an email"}).status_code == 400


def test_reset_two_step_from_check_a_user(admin_client, org, default_policy, managed):
    from orgwarden.accounts import crypto, otp

    managed.totp_secret, managed.totp_enabled_at = crypto.encrypt(otp.new_secret()), managed.created_at
    managed.save()
    page = admin_client.get(base(org) + "check", {"email": managed.email})
    reset = f"{base(org)}accounts/{managed.account_id}/reset-two-step"
    assert f'href="{reset}">Reset two-step verification…</a>' in page.content.decode()
    assert f'action="{reset}"' not in page.content.decode()  # the first click asks (below)
    events = AuditEvent.objects.count()
    confirm = admin_client.get(reset)
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and f"Reset two-step verification of {managed.email}?" in text
    assert "authenticator app and recovery codes stop working now, and every session of theirs ends" in text
    assert f'href="{base(org)}check?email={managed.email.replace("@", "%40")}">Cancel' in text
    managed.refresh_from_db()
    assert managed.has_two_step and AuditEvent.objects.count() == events

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text).group(1)
    response = admin_client.post(reset, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and "check?email=" in response["Location"]
    managed.refresh_from_db()
    assert not managed.has_two_step
    assert AuditEvent.objects.get(action="org:account:2sv_reset").org_id == org.org_id
    stale = admin_client.get(reset, follow=True)  # the confirmation opened again: nothing to reset
    assert "no two-step verification to reset" in stale.content.decode()
    assert AuditEvent.objects.filter(action="org:account:2sv_reset").count() == 1
    assert OrgUser.objects.filter(account=managed, is_managed=True).exists()


def test_a_reset_sent_twice_resets_once_and_says_why_the_second_did_nothing(admin_client, org, managed):
    from orgwarden.accounts import crypto, otp

    managed.totp_secret, managed.totp_enabled_at = crypto.encrypt(otp.new_secret()), managed.created_at
    managed.save()
    url = f"{base(org)}accounts/{managed.account_id}/reset-two-step"
    assert admin_client.post(url).status_code == 302
    again = admin_client.post(url, follow=True)
    assert again.status_code == 200
    assert "no two-step verification to reset" in again.content.decode()
    assert AuditEvent.objects.filter(action="org:account:2sv_reset").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_moves_of_one_account_at_once_the_later_wins_not_500(admin_client, org, default_policy, managed):
    """Two admins move Dana out of the default policy at once, to two policies: the second's delete
    does not see the first's uncommitted member row, and its insert waits for it (PostgreSQL) and
    fails on the one-policy-per-account constraint. As when the first came first, the second move
    replaces it: Dana ends in the second's policy, each move recorded; no 500."""
    from orgwarden.testing.races import behind_an_open_transaction

    admin = org.admins.first().account
    directory_id = local_directory(org).directory_id
    strict = services.policy_create(org=org, actor=admin, directory_id=directory_id, name="Strict")
    relaxed = services.policy_create(org=org, actor=admin, directory_id=directory_id, name="Relaxed")

    response = behind_an_open_transaction(
        lambda: services.policy_members_move(
            org=org, actor=admin, policy_id=strict.policy_id, account_ids=[managed.account_id]
        ),
        lambda: admin_client.post(
            f"{base(org)}{default_policy.policy_id}/members",
            {"account_ids": [managed.account_id], "policy": relaxed.policy_id},
        ),
    )
    assert response.status_code == 302
    assert list(PolicyMember.objects.values_list("account__email", "policy__name")) == [
        ("dana@acme.test", "Relaxed")
    ]
    assert AuditEvent.objects.filter(action="org:policy:members_moved").count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["rename", "delete"])
def test_a_rename_or_delete_of_a_policy_sent_twice_at_once_is_recorded_once(org, default_policy, change):
    """Both requests read the policy before either committed (PostgreSQL): the second rename
    compared the new name with the old one and recorded a second org:policy:renamed; the second
    delete deleted nothing and recorded a second org:policy:deleted. The policy is now read under its
    lock: the second sees the first's change, and answers as a change sent twice does (no event; a
    delete's NotFound is the console's "deleted already")."""
    from orgwarden.orgs.exceptions import NotFound
    from orgwarden.testing.races import behind_an_open_transaction

    admin = org.admins.first().account
    policy = services.policy_create(
        org=org, actor=admin, directory_id=local_directory(org).directory_id, name="Strict"
    )

    def once() -> None:
        if change == "rename":
            services.policy_rename(org=org, actor=admin, policy_id=policy.policy_id, name="Stricter")
        else:
            services.policy_delete(org=org, actor=admin, policy_id=policy.policy_id)

    def again() -> str:
        try:
            once()
        except NotFound:
            return "not found"
        return "done"

    answer = behind_an_open_transaction(once, again)
    assert answer == ("done" if change == "rename" else "not found")
    assert AuditEvent.objects.filter(action=f"org:policy:{change}d").count() == 1


def test_check_a_user_says_a_deactivated_account_cant_sign_in_and_names_its_idp_directory(
    admin_client, org, org_admin, default_policy
):
    """ "Check a user" on a deactivated account listed what its sign-in would ask (SSO through the IdP,
    two-step optional …) as if it could sign in, and an IdP's directory read "belongs to the Okta
    (employees) and no admin moved it"."""
    from orgwarden.orgs.services.users import user_deactivate
    from orgwarden.sso import services as sso_services

    connection = sso_services.idp_add(
        org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)"
    )
    henry = AccountFactory(email="henry@acme.test")
    account_claim(org=org, account=henry, domain=None, actor=Actor.system())
    OrgUser.objects.filter(org=org, account=henry).update(directory=connection.directory)  # as SCIM does
    url = base(org) + "check"

    html = admin_client.get(url, {"email": "henry@acme.test"}).content.decode()
    assert "belongs to the Okta (employees) directory and no admin moved it" in html
    assert "can&#x27;t sign in" not in html

    user_deactivate(org=org, actor=org_admin.account, account_id=henry.account_id)
    found = admin_client.get(url, {"email": "henry@acme.test"})
    assert found.status_code == 200
    first = found.context["explanation"].requirements[0]
    assert (first.topic, first.summary, first.applies) == ("Account", "Deactivated: can't sign in", True)
    assert "Deactivated: can&#x27;t sign in" in found.content.decode()


def test_a_directorys_heading_names_its_kind_once(admin_client, org, org_admin, default_policy):
    """ "Local directory [Local directory]": the local directory's heading repeated its name as a
    badge. An identity provider's directory, named by the admin, still says what it is."""
    from orgwarden.sso import services as sso_services

    sso_services.idp_add(org=org, actor=org_admin.account, vendor="okta", name="Okta (employees)")
    headings = [
        re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", h))).strip()
        for h in re.findall(r'<h2 id="dir-[^"]+">(.*?)</h2>', admin_client.get(base(org)).content.decode())
    ]
    assert headings == ["Local directory", "Okta (employees) Identity provider"]
