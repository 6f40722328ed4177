"""The account's API tokens page, Security → User API tokens, the site's client secret, and REST."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qsl

import pytest
from django.test import Client
from django.utils import timezone

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.api.tests.helpers import ApiClient, key_for
from orgwarden.audit.models import AuditEvent
from orgwarden.orgs.services.claims import local_directory
from orgwarden.policies.services import policy_create, policy_delete, policy_update
from orgwarden.testing import browser
from orgwarden.tokens.models import SiteCredential, UserApiToken
from orgwarden.tokens.user_services import org_user_token_revoke, user_token_create

pytestmark = pytest.mark.django_db


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account, backend="orgwarden.accounts.backends.AccountBackend")
    return client


def test_account_page_creates_a_token_and_shows_it_once(account):
    client = signed_in(account)
    page = client.get("/account/api-tokens/")
    assert page.status_code == 200 and b"API tokens" in page.content
    response = client.post("/account/api-tokens/", {"label": "CLI", "expires_in_days": "30"})
    assert response.status_code == 200
    token = UserApiToken.objects.get()
    value = response.context["created"]["value"]
    assert value.encode() in response.content and token.prefix in value
    again = client.get("/account/api-tokens/")
    assert value.encode() not in again.content and token.prefix.encode() in again.content


def test_account_page_form_errors_and_policy_block(org, org_admin, manage, default_policy):
    person = manage()
    client = signed_in(person)
    assert client.post("/account/api-tokens/", {"label": "", "expires_in_days": "30"}).status_code == 400
    policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"api_token_max_days": 7},
    )
    assert client.post("/account/api-tokens/", {"label": "x", "expires_in_days": "30"}).status_code == 400
    policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"api_tokens_allowed": False},
    )
    refused = client.post("/account/api-tokens/", {"label": "x", "expires_in_days": "1"})
    assert refused.status_code == 400 and b"does not allow API tokens" in refused.content
    assert not UserApiToken.objects.exists()


def test_account_revoke_own_and_404_for_others(account):
    token, _ = user_token_create(account=account, label="t")
    assert signed_in(AccountFactory()).post(f"/account/api-tokens/{token.token_id}/revoke").status_code == 404
    response = signed_in(account).post(f"/account/api-tokens/{token.token_id}/revoke")
    assert response.status_code == 302 and UserApiToken.objects.get().revoked_at is not None


def test_a_token_revoke_sent_twice_says_it_was_revoked_already(org, admin_client, manage):
    """The second revoke answered a 404 page; it says what happened now, and records nothing."""
    person = manage()
    mine, _ = user_token_create(account=person, label="mine")
    theirs, _ = user_token_create(account=person, label="theirs")
    own = signed_in(person)
    for _ in range(2):
        assert own.post(f"/account/api-tokens/{mine.token_id}/revoke").status_code == 302
        url = f"/admin/o/{org.org_id}/api-tokens/{theirs.token_id}/revoke"
        assert admin_client.post(url).status_code == 302
    assert "This API token was revoked already." in own.get("/account/api-tokens/").content.decode()
    page = admin_client.get(f"/admin/o/{org.org_id}/api-tokens/").content.decode()
    assert "This API token was revoked already." in page
    assert AuditEvent.objects.filter(action="account:api_token:revoked").count() == 1
    assert AuditEvent.objects.filter(action="org:api_token:revoked").count() == 1
    stranger = signed_in(AccountFactory())
    assert stranger.post(f"/account/api-tokens/{mine.token_id}/revoke").status_code == 404


def test_console_lists_filters_and_revokes(org, admin_client, manage, default_policy):
    a, b = manage(), manage()
    ta, _ = user_token_create(account=a, label="alpha")
    tb, _ = user_token_create(account=b, label="beta")
    base = f"/admin/o/{org.org_id}/api-tokens/"
    page = admin_client.get(base)
    assert page.status_code == 200 and b"alpha" in page.content and b"beta" in page.content
    assert b"alpha" not in admin_client.get(base, {"q": "zzz"}).content
    assert b"alpha" not in admin_client.get(base, {"expiring": "1"}).content
    response = admin_client.post(f"{base}{ta.token_id}/revoke")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="org:api_token:revoked").count() == 1
    admin_client.post(f"{base}revoke", {"token": [tb.token_id], "confirm": "1"})  # its confirmation's
    assert not UserApiToken.objects.filter(revoked_at__isnull=True).exists()
    user_token_create(account=a, label="gamma")
    admin_client.post(f"{base}revoke", {"policy": default_policy.policy_id, "confirm": "1"})
    assert not UserApiToken.objects.filter(revoked_at__isnull=True).exists()
    assert admin_client.post(f"{base}revoke", {"policy": "nope"}).status_code == 404


def test_revoking_one_token_asks_first_and_goes_back_to_the_persons_page(
    org, org_admin, admin_client, manage
):
    """A revoked token can't be restored and whatever uses it stops: the person's page links to a
    confirmation naming it; opening it changes nothing; its button revokes and goes back."""
    person = manage(AccountFactory(email="ann@acme.test", display_name="Ann"))
    token, _ = user_token_create(account=person, label="laptop")
    page_url = f"/admin/o/{org.org_id}/users/{person.account_id}/"
    revoke = f"/admin/o/{org.org_id}/api-tokens/{token.token_id}/revoke"
    page = admin_client.get(page_url).content.decode()
    assert f'href="{revoke}?next={page_url}">Revoke “laptop”…</a>' in page
    assert f'action="{revoke}"' not in page
    events = AuditEvent.objects.count()

    confirm = admin_client.get(revoke, {"next": page_url})
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Revoke the API token “laptop” of ann@acme.test?" in text
    assert "is refused from now on" in text and "It has never been used." in text
    assert "A revoked token can't be restored; Ann can create a new one." in text
    assert (
        f'<input type="hidden" name="next" value="{page_url}">' in text
        and f'href="{page_url}">Cancel' in text
    )
    assert UserApiToken.objects.get().revoked_at is None and AuditEvent.objects.count() == events

    sent = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    done = admin_client.post(revoke, sent)
    assert done.status_code == 302 and done["Location"] == page_url
    assert UserApiToken.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="org:api_token:revoked").count() == 1
    stale = admin_client.get(revoke, {"next": page_url}, follow=True)  # opened again: revoked already
    assert (
        stale.redirect_chain == [(page_url, 302)]
        and "This API token was revoked already." in stale.content.decode()
    )
    assert admin_client.get(revoke, {"next": "https://evil.example/"}).status_code == 302  # no next: the list


def test_revoking_a_selection_or_a_policys_tokens_asks_first(org, admin_client, manage, default_policy):
    """The list's buttons post to a confirmation naming (or counting) the live tokens; only its
    button, which sends them back with ``confirm``, revokes."""
    ann, bob = manage(AccountFactory(email="ann@acme.test")), manage(AccountFactory(email="bob@acme.test"))
    ta, _ = user_token_create(account=ann, label="alpha")
    tb, _ = user_token_create(account=bob, label="beta")
    gone, _ = user_token_create(account=bob, label="old")
    org_user_token_revoke(org=org, actor=org.admins.first().account, token_id=gone.token_id)
    url = f"/admin/o/{org.org_id}/api-tokens/revoke"
    events = AuditEvent.objects.count()

    confirm = admin_client.post(url, {"token": [ta.token_id, tb.token_id, gone.token_id]})
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Revoke 2 API tokens?" in text
    assert (
        "Whatever uses them is refused from now on: “alpha” of ann@acme.test, “beta” of bob@acme.test."
        in text
    )
    assert 'class="button-danger">Revoke 2 tokens</button>' in text and gone.token_id not in text
    by_policy = unescape(admin_client.post(url, {"policy": default_policy.policy_id}).content.decode())
    assert f"Revoke every API token of the members of “{default_policy.name}”?" in by_policy
    assert "2 live API tokens of 2 people stop working at once" in by_policy
    assert (
        UserApiToken.objects.filter(revoked_at__isnull=True).count() == 2
        and AuditEvent.objects.count() == events
    )

    sent = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', by_policy)
    data: dict[str, list[str]] = {}
    for name, value in sent:
        data.setdefault(name, []).append(value)
    assert data["confirm"] == ["1"] and data["policy"] == [default_policy.policy_id]
    assert messages_after(admin_client.post(url, data), admin_client) == "2 API tokens revoked."
    assert not UserApiToken.objects.filter(revoked_at__isnull=True).exists()
    nothing = messages_after(admin_client.post(url, {"policy": default_policy.policy_id}), admin_client)
    assert nothing == f"No member of policy “{default_policy.name}” has a live API token: nothing to revoke."


def test_console_pages_through_every_token_by_expiry(org, admin_client, manage, other_org_admin):
    """A big org's people hold thousands of tokens: the list shows them 50 a page, soonest expiry
    first (ties by creation), and each is reachable; it showed the first 500 and no more. The
    filters are kept from page to page; another org's tokens never show."""
    people = [manage() for _ in range(3)]
    soon = timezone.now() + timedelta(days=3)
    UserApiToken.objects.bulk_create(
        UserApiToken(
            account=people[i % 3],
            label=f"t{i:03}",
            prefix=f"p{i:03}",
            token_hash=f"{i:064}",
            expires_at=soon + timedelta(hours=i // 2),  # two tokens share each expiry
        )
        for i in range(520)
    )
    stranger = manage(in_org=other_org_admin.org)
    user_token_create(account=stranger, label="theirs")
    base = f"/admin/o/{org.org_id}/api-tokens/"

    def walk(query: dict) -> tuple[list[str], int]:
        labels, pages = [], 0
        while query is not None:
            body = admin_client.get(base, query).content.decode()
            pages += 1
            labels += re.findall(r'aria-label="Select (t\d{3}) of ', body)
            following = re.search(r'href="\?([^"]*)" rel="next"', body)
            query = dict(parse_qsl(unescape(following.group(1)))) if following else None
        return labels, pages

    labels, pages = walk({})
    assert labels == [f"t{i:03}" for i in range(520)] and pages == 11
    labels, pages = walk({"q": people[0].email, "expiring": "1"})
    assert labels == [f"t{i:03}" for i in range(0, 520, 3)] and pages == 4


def messages_after(response, client) -> str:
    """The messages of the page the console went back to, as one line of text."""
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    found = re.search(r'<div class="messages".*?</div>', page, re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(0) if found else "")).split())


def test_a_bulk_revoke_sent_twice_says_which_were_revoked_already(org, admin_client, manage):
    """The second "Revoke selected" said "0 API tokens revoked." and nothing of why."""
    a, b = manage(AccountFactory(email="ann@acme.test")), manage(AccountFactory(email="bob@acme.test"))
    ta, _ = user_token_create(account=a, label="alpha")
    tb, _ = user_token_create(account=b, label="beta")
    url = f"/admin/o/{org.org_id}/api-tokens/revoke"
    both = {"token": [ta.token_id, tb.token_id], "confirm": "1"}  # the confirmation's button
    first = messages_after(admin_client.post(url, both), admin_client)
    assert "2 API tokens revoked." in first and "Revoked already" not in first
    again = messages_after(admin_client.post(url, both), admin_client)
    assert "Nothing was revoked." in again and "0 API tokens" not in again
    assert "Revoked already: “alpha” of ann@acme.test, “beta” of bob@acme.test." in again
    tc, _ = user_token_create(account=a, label="gamma")  # a second tab, overlapping the first
    partly = messages_after(
        admin_client.post(url, {"token": [tc.token_id, ta.token_id], "confirm": "1"}), admin_client
    )
    assert "1 API token revoked." in partly and "Revoked already: “alpha” of ann@acme.test." in partly
    events = AuditEvent.objects.filter(action="org:api_token:revoked")
    assert sorted(e.targets[1]["id"] for e in events) == sorted([ta.token_id, tb.token_id, tc.token_id])


def test_a_bulk_revoke_passes_over_tokens_that_are_not_the_orgs_and_confirms_nothing(
    org, admin_client, manage, other_org_admin
):
    """Another org's token - even one that org revoked - reads as one that never existed."""
    ours, _ = user_token_create(account=manage(), label="ours")
    theirs, _ = user_token_create(account=manage(in_org=other_org_admin.org), label="their-label")
    their_revoked, _ = user_token_create(account=manage(in_org=other_org_admin.org), label="their-old")
    org_user_token_revoke(
        org=other_org_admin.org, actor=other_org_admin.account, token_id=their_revoked.token_id
    )
    before = AuditEvent.objects.count()
    url = f"/admin/o/{org.org_id}/api-tokens/revoke"
    odd = [theirs.token_id, their_revoked.token_id, "nope", "a\x00b", "x" * 5000]
    said = messages_after(
        admin_client.post(url, {"token": [ours.token_id, *odd], "confirm": "1"}), admin_client
    )
    assert said == "1 API token revoked. 5 selected tokens are not tokens of your managed accounts."
    for token_id in [theirs.token_id, their_revoked.token_id, "nope"]:
        for confirm in ("", "1"):  # the list's button (no live token to confirm) and a confirmation's
            said = messages_after(
                admin_client.post(url, {"token": [token_id], "confirm": confirm}), admin_client
            )
            assert said == "Nothing was revoked. 1 selected token is not a token of your managed accounts."
    assert AuditEvent.objects.count() == before + 1
    assert UserApiToken.objects.get(pk=theirs.pk).revoked_at is None


def test_revoking_a_policys_tokens_after_the_policy_was_deleted_says_so(
    org, org_admin, admin_client, other_org_admin
):
    """A policy deleted in another tab answered a 404 page."""
    directory = local_directory(org)
    policy = policy_create(
        org=org, actor=org_admin.account, directory_id=directory.directory_id, name="Contractors"
    )
    policy_delete(org=org, actor=org_admin.account, policy_id=policy.policy_id)
    url = f"/admin/o/{org.org_id}/api-tokens/revoke"
    page = messages_after(admin_client.post(url, {"policy": policy.policy_id}), admin_client)
    assert "Policy “Contractors” was deleted already. Nothing was revoked." in page
    other = other_org_admin.org
    theirs = policy_create(
        org=other,
        actor=other_org_admin.account,
        directory_id=local_directory(other).directory_id,
        name="Theirs",
    )
    policy_delete(org=other, actor=other_org_admin.account, policy_id=theirs.policy_id)
    assert admin_client.post(url, {"policy": theirs.policy_id}).status_code == 404  # confirms nothing


def test_console_another_orgs_token_is_404(org, admin_client, manage, other_org_admin):
    theirs = manage(in_org=other_org_admin.org)
    token, _ = user_token_create(account=theirs, label="t")
    assert admin_client.post(f"/admin/o/{org.org_id}/api-tokens/{token.token_id}/revoke").status_code == 404
    assert admin_client.get(f"/admin/o/{other_org_admin.org.org_id}/api-tokens/").status_code == 404
    assert UserApiToken.objects.get().revoked_at is None


def _introspects(site, secret: str) -> int:
    auth = "Basic " + base64.b64encode(f"{site.client_id}:{secret}".encode()).decode()
    return Client().post("/oauth2/introspect", {"token": "owt_nothing"}, HTTP_AUTHORIZATION=auth).status_code


def test_replacing_the_client_secret_asks_first_then_shows_the_new_one_once(org, admin_client, site):
    """Replacing stops the site's sign-in and token checks until it has the new secret: the site's
    page links to a confirmation saying so, which changes nothing; its button replaces it."""
    url = f"/admin/o/{org.org_id}/products/{site.site.site_id}/"
    page = admin_client.get(url).content.decode()
    assert (
        f'href="{url}credential">Replace client secret…</a>' in page
        and f'action="{url}credential"' not in page
    )
    events = AuditEvent.objects.count()

    confirm = admin_client.get(url + "credential")
    text = unescape(confirm.content.decode())
    assert confirm.status_code == 200 and "Replace the client secret of Jira?" in text
    assert f"The current secret stops working at once: Jira can't sign anyone in through {org.name}" in text
    assert _introspects(site, site.secret) == 200 and AuditEvent.objects.count() == events

    sent = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', text))
    response = admin_client.post(url + "credential", sent)
    assert response.status_code == 200 and response.context["secret"].encode() in response.content
    assert response.context["secret"].encode() not in admin_client.get(url).content
    assert SiteCredential.objects.get().client_id == site.site.site_id
    assert _introspects(site, site.secret) == 401 and _introspects(site, response.context["secret"]) == 200
    assert AuditEvent.objects.get(action="org:site:credential_created", details__replaced=True)

    again = admin_client.post(url + "credential", sent, follow=True)  # sent twice, or the page reloaded
    assert "The client secret of Jira changed since that page was shown: nothing changed." in unescape(
        again.content.decode()
    )
    direct = admin_client.post(url + "credential", follow=True)  # no confirmation: no replacing
    assert "changed since that page was shown" in unescape(direct.content.decode())
    assert _introspects(site, response.context["secret"]) == 200
    assert AuditEvent.objects.filter(action="org:site:credential_created").count() == 2  # made, replaced


def test_the_first_client_secret_needs_no_confirmation(org, org_admin, admin_client):
    from orgwarden.orgs.services import access

    jira = access.site_add(
        org=org, actor=org_admin.account, product="jira-software", name="J", url="https://j.test"
    )
    url = f"/admin/o/{org.org_id}/products/{jira.site_id}/"
    assert '<input type="hidden" name="replaces" value="">' in admin_client.get(url).content.decode()
    assert admin_client.get(url + "credential")["Location"] == url  # nothing to confirm
    response = admin_client.post(url + "credential", {"replaces": ""})
    assert response.status_code == 200 and response.context["secret"].startswith("owcs_")
    assert admin_client.get(f"/admin/o/{org.org_id}/products/nope/credential").status_code == 404


def test_rest_lists_and_revokes_a_managed_accounts_tokens(org, org_admin, manage, other_org_admin):
    person = manage()
    token, _ = user_token_create(account=person, label="cli")
    api = ApiClient(key_for(org_admin)[1])
    listed = api.get(f"/api/users/{person.account_id}/manage/api-tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["tokens"]] == [token.token_id]
    theirs = manage(in_org=other_org_admin.org)
    assert api.get(f"/api/users/{theirs.account_id}/manage/api-tokens").json()["code"] == "not_found"
    gone = api.client.delete(
        f"/api/users/{person.account_id}/manage/api-tokens/nope", HTTP_AUTHORIZATION=f"Bearer {api.value}"
    )
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    deleted = api.client.delete(
        f"/api/users/{person.account_id}/manage/api-tokens/{token.token_id}",
        HTTP_AUTHORIZATION=f"Bearer {api.value}",
    )
    assert deleted.status_code == 204 and UserApiToken.objects.get().revoked_at is not None
    event = AuditEvent.objects.get(action="org:api_token:revoked")
    assert event.actor_type == "api_key"


def test_site_page_sets_sign_in_addresses(org, admin_client, site):
    from oauth2_provider.models import Application

    url = f"/admin/o/{org.org_id}/products/{site.site.site_id}/"
    page = admin_client.get(url)
    assert b"Save sign-in addresses" in page.content and site.site.site_id.encode() in page.content
    response = admin_client.post(
        url + "sign-in-addresses",
        {"redirect_uris": "https://jira.acme.test/cb\nhttp://localhost:8000/cb", "logout_uris": ""},
    )
    assert response.status_code == 302
    application = Application.objects.get(client_id=site.site.site_id)
    assert application.redirect_uris == "https://jira.acme.test/cb http://localhost:8000/cb"
    assert AuditEvent.objects.filter(action="org:site:redirect_uris_changed").count() == 1
    admin_client.post(url + "sign-in-addresses", {"redirect_uris": "http://jira.acme.test/cb"})
    application.refresh_from_db()
    assert application.redirect_uris == "https://jira.acme.test/cb http://localhost:8000/cb"
    assert AuditEvent.objects.filter(action="org:site:redirect_uris_changed").count() == 1
    assert b"https://jira.acme.test/cb" in admin_client.get(url).content


@pytest.mark.parametrize(
    "bad", ["https://[jira.acme.test/cb", "https://jira.acme.test/cb\x00", "https://jira.acme.test/\x01cb"]
)
def test_sign_in_addresses_refuse_what_is_no_address_and_change_nothing(org, admin_client, site, bad):
    """An unclosed IPv6 bracket made ``urlsplit`` raise (a 500); a NUL reached the insert (a 500 on
    PostgreSQL). Both are a clear message now, with nothing saved and nothing recorded."""
    from oauth2_provider.models import Application

    url = f"/admin/o/{org.org_id}/products/{site.site.site_id}/sign-in-addresses"
    for field in ("redirect_uris", "logout_uris"):
        response = admin_client.post(
            url, {"redirect_uris": "https://jira.acme.test/cb", field: bad}, follow=True
        )
        assert response.status_code == 200
        assert "is not an absolute address" in response.content.decode() or "control character" in (
            response.content.decode()
        )
    application = Application.objects.get(client_id=site.site.site_id)
    assert "jira.acme.test" not in application.redirect_uris
    assert not AuditEvent.objects.filter(action="org:site:redirect_uris_changed").exists()


def test_saving_the_same_sign_in_addresses_again_records_nothing(org, admin_client, site):
    url = f"/admin/o/{org.org_id}/products/{site.site.site_id}/sign-in-addresses"
    form = {"redirect_uris": "https://jira.acme.test/cb", "logout_uris": ""}
    assert admin_client.post(url, form).status_code == 302
    response = admin_client.post(url, form, follow=True)
    assert "Sign-in addresses saved." in response.content.decode()
    assert AuditEvent.objects.filter(action="org:site:redirect_uris_changed").count() == 1


def test_one_secret_serves_sign_in_and_introspection(site):
    from django.contrib.auth.hashers import check_password
    from oauth2_provider.models import Application

    application = Application.objects.get(client_id=site.client_id)
    assert application.client_secret != site.secret and check_password(site.secret, application.client_secret)


def test_managed_account_page_lists_and_revokes_its_tokens(org, admin_client, manage):
    person = manage()
    token, _ = user_token_create(account=person, label="laptop")
    url = f"/admin/o/{org.org_id}/users/{person.account_id}/"
    page = admin_client.get(url)
    assert page.status_code == 200 and b"laptop" in page.content and token.prefix.encode() in page.content
    response = admin_client.post(f"/admin/o/{org.org_id}/api-tokens/{token.token_id}/revoke", {"next": url})
    assert response.status_code == 302 and response["Location"] == url
    assert UserApiToken.objects.get().revoked_at is not None
    assert b"No live API tokens." in admin_client.get(url).content


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_revoke_selected_from_a_second_tab_says_which_were_revoked_already(
    new_page, org, org_admin, manage, password
):
    from playwright.sync_api import expect

    person = manage(AccountFactory(email="ann@acme.test"))
    for label in ["alpha", "beta"]:
        user_token_create(account=person, label=label)
    first = new_page()
    browser.sign_in(first, org_admin.account.email, password)
    second = first.context.new_page()
    url = f"/admin/o/{org.org_id}/api-tokens/"
    for tab in (first, second):  # both open the confirmation …
        tab.goto(url)
        tab.get_by_label("Select alpha of ann@acme.test").check()
        tab.get_by_label("Select beta of ann@acme.test").check()
        tab.get_by_role("button", name="Revoke selected…").click()
        expect(tab.get_by_role("heading", name="Revoke 2 API tokens?")).to_be_visible()
    assert AuditEvent.objects.filter(action="org:api_token:revoked").count() == 0
    first.get_by_role("button", name="Revoke 2 tokens").click()  # … and both confirm
    expect(first.get_by_text("2 API tokens revoked.")).to_be_visible()
    second.get_by_role("button", name="Revoke 2 tokens").click()
    expect(second.get_by_text("Nothing was revoked.")).to_be_visible()
    expect(
        second.get_by_text("Revoked already: “alpha” of ann@acme.test, “beta” of ann@acme.test.")
    ).to_be_visible()
    expect(second.get_by_text("Nobody in your managed accounts has a live API token.")).to_be_visible()
    assert AuditEvent.objects.filter(action="org:api_token:revoked").count() == 2
