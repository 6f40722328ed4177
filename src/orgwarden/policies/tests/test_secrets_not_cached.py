"""Pages that show a TOTP secret or recovery codes tell the browser not to keep them.

"Shown once" must hold on a shared computer too: without ``Cache-Control: no-store`` a browser may
keep the page — the secret as text and as a QR code, or the ten recovery codes — in its cache and
show it again with the back button after the person signed out. The API token pages already say
so (``never_cache``); these did not.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.policies import services

pytestmark = pytest.mark.django_db
CODE = re.compile(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>")


def _not_stored(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def _secret(page) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1).replace(" ", "")


def test_the_account_setup_and_recovery_code_pages_are_not_stored(sign_in, password):
    account = AccountFactory()
    client = Client()
    sign_in(client, account.email)
    page = client.get("/account/two-step/setup?new=1")
    assert page.status_code == 200 and _not_stored(page)
    codes = client.post(
        "/account/two-step/setup", {"code": pyotp.TOTP(_secret(page)).now(), "current_proof": password}
    )
    assert codes.status_code == 200 and len(CODE.findall(codes.content.decode())) == 10
    assert _not_stored(codes)
    again = client.post("/account/two-step/recovery-codes", {"password": password})
    assert again.status_code == 200 and len(CODE.findall(again.content.decode())) == 10
    assert _not_stored(again)


def test_the_enrolment_step_of_sign_in_is_not_stored(org, org_admin, manage, default_policy, sign_in):
    services.policy_update(
        org=org,
        actor=org_admin.account,
        policy_id=default_policy.policy_id,
        settings={"two_step": "mandatory"},
    )
    person = manage()
    client = Client()
    assert sign_in(client, person.email)["Location"] == "/login/step/two_step_enrol"
    page = client.get("/login/step/two_step_enrol")
    assert page.status_code == 200 and _not_stored(page)
    codes = client.post("/login/step/two_step_enrol", {"code": pyotp.TOTP(_secret(page)).now()})
    assert codes.status_code == 200 and len(CODE.findall(codes.content.decode())) == 10
    assert _not_stored(codes)
