"""Help-center services: the IdP configuration and the password/SSO rules, customers (sign-up in
two help centers, sign-in, reset, admin actions), each with its audit event; a refused call leaves
neither change nor event; another org's site is ``NotFound``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine

from orgwarden.accounts import emails
from orgwarden.accounts.models import Account
from orgwarden.audit.models import AuditEvent
from orgwarden.helpcenter import selectors, services
from orgwarden.helpcenter.exceptions import AuthenticationRule, CustomerSigninRefused
from orgwarden.helpcenter.models import Customer, HelpCenter
from orgwarden.helpcenter.tests.conftest import connect_idp, help_center, sso_on
from orgwarden.orgs.exceptions import InvalidInput, NotFound
from orgwarden.orgs.selectors.billing import billable_count
from orgwarden.orgs.services.access import site_add
from orgwarden.sso.tests.idp import IDP_ENTITY_ID, idp_metadata_xml

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple 42"


def events(action: str):
    return AuditEvent.objects.filter(action=action)


def test_only_jsm_sites_of_the_org_have_a_help_center(org, org_admin, other_org_admin, site):
    software = site_add(
        org=org, actor=org_admin.account, product="jira-software", name="Dev", url="https://dev.example.test"
    )
    with pytest.raises(NotFound):
        selectors.help_center_get(org=org, site_id=software.site_id)
    with pytest.raises(NotFound):
        selectors.help_center_get(org=other_org_admin.org, site_id=site.site_id)
    with pytest.raises(NotFound):
        selectors.help_center_public(site_id=software.site_id)
    hc = selectors.help_center_public(site_id=site.site_id)
    assert hc.pk is None and hc.password_enabled and not hc.sso_enabled  # defaults, nothing written
    assert not HelpCenter.objects.exists()


def test_idp_update_records_its_event_with_the_help_center_as_target(org, org_admin, site):
    services.help_center_idp_update(
        org=org, actor=org_admin.account, site_id=site.site_id, idp_entity_id=IDP_ENTITY_ID
    )
    event = events("helpcenter:idp:updated").get()
    assert event.org_id == org.org_id
    assert event.targets[0] == {"type": "help_center", "id": site.site_id, "name": site.name}
    assert event.details["changed"] == ["idp_entity_id"]


def test_idp_update_refuses_http_and_another_orgs_admin(org, org_admin, other_org_admin, site):
    with pytest.raises(InvalidInput):
        services.help_center_idp_update(
            org=org, actor=org_admin.account, site_id=site.site_id, idp_sso_url="http://idp.test/sso"
        )
    with pytest.raises(NotFound):
        services.help_center_idp_update(
            org=org, actor=other_org_admin.account, site_id=site.site_id, idp_entity_id="x"
        )
    with pytest.raises(NotFound):
        services.help_center_idp_update(
            org=other_org_admin.org, actor=other_org_admin.account, site_id=site.site_id, idp_entity_id="x"
        )
    assert not events("helpcenter:idp:updated").exists()
    assert not HelpCenter.objects.filter(idp_sso_url__startswith="http:").exists()


def test_metadata_import_fills_the_idp(org, org_admin, site, customer_idp_keys):
    services.help_center_metadata_import(
        org=org,
        actor=org_admin.account,
        site_id=site.site_id,
        document=idp_metadata_xml(customer_idp_keys).encode(),
    )
    hc = help_center(org, site)
    assert hc.idp_entity_id == IDP_ENTITY_ID and hc.certificates.count() == 1
    assert len(events("helpcenter:idp:metadata_imported").get().details["certificates_added"]) == 1
    with pytest.raises(InvalidInput):
        services.help_center_metadata_import(
            org=org, actor=org_admin.account, site_id=site.site_id, document=b"<!DOCTYPE x><x/>"
        )
    assert events("helpcenter:idp:metadata_imported").count() == 1


def _auth(org, org_admin, site, password: bool, sso: bool):
    return services.help_center_authentication_set(
        org=org, actor=org_admin.account, site_id=site.site_id, password_enabled=password, sso_enabled=sso
    )


def test_at_least_one_way_to_sign_in_stays_on(org, org_admin, site):
    with pytest.raises(AuthenticationRule):
        _auth(org, org_admin, site, False, False)
    assert not events("helpcenter:authentication:updated").exists()


def test_sso_needs_a_configured_and_tested_idp(org, org_admin, site, customer_idp_keys):
    with pytest.raises(AuthenticationRule, match="Connect"):
        _auth(org, org_admin, site, True, True)
    hc = connect_idp(org, org_admin.account, site, customer_idp_keys)
    with pytest.raises(AuthenticationRule, match="Test single sign-on"):
        _auth(org, org_admin, site, True, True)
    services.help_center_sso_test_record(help_center=hc, actor=org_admin.account, reason="signature_invalid")
    with pytest.raises(AuthenticationRule, match="Test single sign-on"):
        _auth(org, org_admin, site, True, True)
    services.help_center_sso_test_record(help_center=hc, actor=org_admin.account, reason="ok")
    assert events("helpcenter:idp:tested").filter(details__outcome="ok").count() == 1
    hc = _auth(org, org_admin, site, True, True)
    assert hc.sso_enabled and hc.password_enabled
    assert events("helpcenter:authentication:updated").get().details == {
        "password_enabled": True,
        "sso_enabled": True,
    }


def test_a_new_entity_id_must_be_tested_again(org, org_admin, site, customer_idp_keys):
    hc = connect_idp(org, org_admin.account, site, customer_idp_keys)
    services.help_center_sso_test_record(help_center=hc, actor=org_admin.account, reason="ok")
    services.help_center_idp_update(
        org=org, actor=org_admin.account, site_id=site.site_id, idp_entity_id="https://new.idp.test/"
    )
    with pytest.raises(AuthenticationRule, match="Test single sign-on"):
        _auth(org, org_admin, site, True, True)


def test_sso_only_off_while_password_is_on(org, org_admin, site, customer_idp_keys):
    sso_on(org, org_admin.account, site, customer_idp_keys, password=False)
    hc = help_center(org, site)
    assert hc.sso_enabled and not hc.password_enabled
    with pytest.raises(AuthenticationRule):
        _auth(org, org_admin, site, False, False)  # SSO off while password is off
    _auth(org, org_admin, site, True, True)  # password back on first …
    hc = _auth(org, org_admin, site, True, False)  # … then SSO may go
    assert hc.password_enabled and not hc.sso_enabled
    # Once tested, SSO may come back without a new test.
    assert _auth(org, org_admin, site, False, True).sso_enabled


def test_the_idp_cant_be_taken_away_while_sso_is_on(org, org_admin, site, customer_idp_keys):
    hc = sso_on(org, org_admin.account, site, customer_idp_keys)
    with pytest.raises(AuthenticationRule):
        services.help_center_idp_update(
            org=org, actor=org_admin.account, site_id=site.site_id, idp_entity_id=""
        )
    certificate = hc.certificates.get()
    with pytest.raises(AuthenticationRule):
        services.help_center_certificate_remove(
            org=org, actor=org_admin.account, site_id=site.site_id, certificate_id=certificate.certificate_id
        )
    assert help_center(org, site).idp_entity_id == IDP_ENTITY_ID
    assert not events("helpcenter:idp:certificate_removed").exists()


def test_the_same_email_is_a_customer_of_two_help_centers_and_never_an_account(
    org, org_admin, site, other_site
):
    accounts, billable = Account.objects.count(), billable_count(org=org)
    a = services.customer_sign_up(
        help_center=help_center(org, site), email="Pat@Customer.test", password=PASSWORD
    )
    b = services.customer_sign_up(
        help_center=help_center(org, other_site), email="pat@customer.test", password=PASSWORD
    )
    assert a.email == b.email == "pat@customer.test" and a.help_center_id != b.help_center_id
    assert a.password.startswith("argon2") and PASSWORD not in a.password
    assert Account.objects.count() == accounts and billable_count(org=org) == billable
    event = events("helpcenter:customer:signed_up").first()
    assert event.org_id == org.org_id and event.actor_email == "pat@customer.test"
    with pytest.raises(InvalidInput):
        services.customer_sign_up(
            help_center=help_center(org, site), email="pat@customer.test", password=PASSWORD
        )
    assert events("helpcenter:customer:signed_up").count() == 2


@pytest.mark.parametrize(("email", "password"), [("not-an-email", PASSWORD), ("pat@customer.test", "123")])
def test_sign_up_refuses_bad_input(org, site, email, password):
    with pytest.raises(InvalidInput):
        services.customer_sign_up(help_center=help_center(org, site), email=email, password=password)
    assert not Customer.objects.exists() and not events("helpcenter:customer:signed_up").exists()


def test_no_sign_up_when_password_sign_in_is_off(org, org_admin, site, customer_idp_keys):
    hc = sso_on(org, org_admin.account, site, customer_idp_keys, password=False)
    with pytest.raises(AuthenticationRule):
        services.customer_sign_up(help_center=hc, email="pat@customer.test", password=PASSWORD)
    with pytest.raises(CustomerSigninRefused) as info:
        services.customer_password_signin(help_center=hc, email="pat@customer.test", password=PASSWORD)
    assert info.value.reason == "password_disabled"
    assert not Customer.objects.exists()


def test_password_sign_in(org, org_admin, site):
    hc = help_center(org, site)
    customer = services.customer_sign_up(help_center=hc, email="pat@customer.test", password=PASSWORD)
    hc = help_center(org, site)
    assert (
        services.customer_password_signin(help_center=hc, email="PAT@customer.test", password=PASSWORD)
        == customer
    )
    assert events("helpcenter:customer:signed_in").get().details == {"method": "password"}
    for email, password, reason in [
        ("pat@customer.test", "wrong", "bad_credentials"),
        ("nobody@customer.test", PASSWORD, "bad_credentials"),
    ]:
        with pytest.raises(CustomerSigninRefused) as info:
            services.customer_password_signin(help_center=hc, email=email, password=password)
        assert info.value.reason == reason
    services.customer_deactivate(
        org=org, actor=org_admin.account, site_id=site.site_id, customer_id=customer.customer_id
    )
    with pytest.raises(CustomerSigninRefused) as info:
        services.customer_password_signin(help_center=hc, email="pat@customer.test", password=PASSWORD)
    assert info.value.reason == "deactivated"
    assert events("helpcenter:customer:signed_in").count() == 1
    services.customer_signin_failure_record(help_center=hc, reason="deactivated", email="pat@customer.test")
    assert events("helpcenter:customer:signin_failed").get().details["reason"] == "deactivated"


def test_admin_deactivates_reactivates_and_removes_a_customer(
    org, org_admin, other_org_admin, site, other_site
):
    a = services.customer_sign_up(
        help_center=help_center(org, site), email="pat@customer.test", password=PASSWORD
    )
    b = services.customer_sign_up(
        help_center=help_center(org, other_site), email="pat@customer.test", password=PASSWORD
    )
    kwargs = {"org": org, "actor": org_admin.account, "site_id": site.site_id, "customer_id": a.customer_id}
    with pytest.raises(NotFound):  # b is a customer of the other help center
        services.customer_deactivate(**{**kwargs, "customer_id": b.customer_id})
    with pytest.raises(NotFound):
        services.customer_deactivate(**{**kwargs, "actor": other_org_admin.account})
    assert not services.customer_deactivate(**kwargs).is_active
    assert services.customer_reactivate(**kwargs).is_active
    services.customer_remove(**kwargs)
    assert list(Customer.objects.all()) == [b]
    for action in ("deactivated", "reactivated", "removed"):
        event = events(f"helpcenter:customer:{action}").get()
        assert event.org_id == org.org_id
        assert [t["type"] for t in event.targets] == ["help_center", "customer"]


def test_customers_search(org, org_admin, site):
    hc = help_center(org, site)
    for email in ("ann@a.test", "bob@b.test"):
        services.customer_sign_up(help_center=hc, email=email, password=PASSWORD)
    hc = help_center(org, site)
    assert [c.email for c in selectors.customers_of(org=org, help_center=hc, query="bob")] == ["bob@b.test"]
    assert selectors.customers_of(org=org, help_center=hc, status="deactivated").count() == 0


def test_password_reset_link_works_once_and_for_an_hour(
    org, site, mailoutbox, django_capture_on_commit_callbacks
):
    hc = help_center(org, site)
    services.customer_sign_up(help_center=hc, email="pat@customer.test", password=PASSWORD)
    hc = help_center(org, site)
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_password_reset_request(help_center=hc, email="nobody@customer.test")
    emails.background_drain()  # what was handed to the background senders has left
    assert not mailoutbox
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_password_reset_request(help_center=hc, email="pat@customer.test")
    emails.background_drain()
    token = re.search(r"/reset/(\S+)", mailoutbox[0].body).group(1)
    assert token not in Customer.objects.get().reset_token_hash
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    with time_machine.travel(later), pytest.raises(InvalidInput):
        services.customer_password_reset(help_center=hc, token=token, password="a new long passphrase 7")
    services.customer_password_reset(help_center=hc, token=token, password="a new long passphrase 7")
    with pytest.raises(InvalidInput):
        services.customer_password_reset(help_center=hc, token=token, password="another passphrase 8")
    assert services.customer_password_signin(
        help_center=hc, email="pat@customer.test", password="a new long passphrase 7"
    )
    assert events("helpcenter:customer:password_reset").count() == 1
    assert events("helpcenter:customer:password_reset_requested").count() == 1
