"""What a person whose SSO sign-in is refused reads: the reason code and the plain sentence that
goes with it, never the document's detail (that is for the admin's test); a deactivated person
reads what a correct password would have shown them, the managing org's message."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import time_machine
from django.test import Client

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.orgs.services.users import user_deactivate
from orgwarden.sso.tests.test_acs import acs, signed_in_as, sp, sso_failures
from orgwarden.sso.tests.test_signin import managed_in_idp

pytestmark = pytest.mark.django_db


def test_a_deactivated_person_reads_the_orgs_message(connection, idp, org, org_admin):
    ada = managed_in_idp(connection, "ada@example.com")
    user_deactivate(
        org=org, actor=org_admin.account, account_id=ada.account_id, message="Call the service desk."
    )
    client = Client()
    response = client.post(
        acs(connection), {"SAMLResponse": idp.response(**sp(connection), email="ada@example.com")}
    )
    page = response.content.decode()
    assert response.status_code == 400 and signed_in_as(client) is None
    assert "account_deactivated" in page
    assert f"{org.name} deactivated your account." in page and "Call the service desk." in page
    assert "answer was refused" not in page  # the IdP's answer was fine; the account is not
    assert sso_failures("account_deactivated").get().actor_id == ada.account_id


def test_an_expired_assertion_says_so_in_plain_words(connection, idp):
    AccountFactory(email="ada@example.com")
    saml_response = idp.response(**sp(connection), email="ada@example.com")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)):
        response = Client().post(acs(connection), {"SAMLResponse": saml_response})
    page = response.content.decode()
    assert response.status_code == 400 and "expired" in page
    assert "The assertion has expired." in page


def test_a_person_never_reads_the_verifiers_detail(connection, idp):
    AccountFactory(email="ada@example.com")
    xml = base64.b64decode(idp.response(**sp(connection), email="ada@example.com"))
    forged = base64.b64encode(xml.replace(b"ada@example.com", b"boss@example.com")).decode()
    response = Client().post(acs(connection), {"SAMLResponse": forged})
    page = response.content.decode()
    assert response.status_code == 400 and "signature_invalid" in page
    assert "does not verify with any certificate configured" in page
    detail = sso_failures("signature_invalid").get().details["detail"]
    assert detail and detail not in page  # signxml's words stay in the audit log
