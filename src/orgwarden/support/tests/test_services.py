"""Support request services: who may do what, the deadline, and one audit event per change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.models import AuditEvent
from orgwarden.support import services
from orgwarden.support.exceptions import AlreadyResolved, InvalidRequest, NotFound
from orgwarden.support.models import SupportMessage, SupportRequest

FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)


@pytest.fixture
def staff(db):
    return AccountFactory(is_staff=True)


@pytest.fixture
def raised(org, org_admin):
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        return services.support_request_raise(
            org=org,
            actor=org_admin.account,
            severity="L3",
            summary="Jira is slow",
            description="Since 10:00.",
        )


def one_event(action: str) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(action=action)
    return event


@pytest.mark.django_db
def test_raise_computes_the_deadline_and_records_the_event(org, raised, settings):
    assert settings.SUPPORT_TIME_ZONE == "UTC"
    assert raised.response_due_at == datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert raised.status == SupportRequest.Status.OPEN
    assert list(raised.messages.values_list("body", flat=True)) == ["Since 10:00."]
    event = one_event("org:support_request:raised")
    assert event.org_id == org.org_id
    assert event.details["severity"] == "L3"
    assert event.targets[0]["id"] == raised.request_id


@pytest.mark.django_db
def test_raise_uses_the_operator_time_zone_and_holidays(org, org_admin, settings):
    from datetime import date

    settings.SUPPORT_TIME_ZONE = "America/New_York"
    settings.SUPPORT_HOLIDAYS = frozenset({date(2026, 11, 30)})
    with time_machine.travel(FRIDAY_EVENING, tick=False):
        request = services.support_request_raise(
            org=org, actor=org_admin.account, severity="L3", summary="s", description="d"
        )
    # Friday 14:30 in New York: 3.5 hours on Friday, Monday is a holiday, 5.5 hours on Tuesday.
    assert request.response_due_at == datetime(2026, 12, 1, 19, 30, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("severity", "summary", "description"),
    [("L5", "s", "d"), ("L1", "", "d"), ("L1", "x" * 201, "d"), ("L1", "s", "  "), ("L1", "s", "x" * 10_001)],
)
def test_raise_refuses_bad_input_without_change(org, org_admin, severity, summary, description):
    with pytest.raises(InvalidRequest):
        services.support_request_raise(
            org=org, actor=org_admin.account, severity=severity, summary=summary, description=description
        )
    assert not SupportRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="org:support_request").exists()


@pytest.mark.django_db
def test_only_admins_of_the_org_raise(org, other_org_admin, account):
    for actor in (other_org_admin.account, account):
        with pytest.raises(NotFound):
            services.support_request_raise(org=org, actor=actor, severity="L1", summary="s", description="d")
    assert not SupportRequest.objects.exists()


@pytest.mark.django_db
def test_reply_records_the_first_response(raised, staff):
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=UTC), tick=False):
        services.support_request_reply(actor=staff, request_id=raised.request_id, body="Looking into it.")
    raised.refresh_from_db()
    assert raised.status == SupportRequest.Status.ANSWERED
    assert raised.first_response_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    event = one_event("org:support_request:replied")
    assert event.details == {"first_response": True, "within_target": True}
    assert event.org_id == raised.org.org_id
    with time_machine.travel(datetime(2026, 12, 3, 10, 0, tzinfo=UTC), tick=False):
        services.support_request_reply(actor=staff, request_id=raised.request_id, body="Fixed.")
    raised.refresh_from_db()
    assert raised.first_response_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert raised.messages.filter(from_support=True).count() == 2


@pytest.mark.django_db
def test_staff_only_for_reply_severity_resolve(raised, org_admin):
    admin = org_admin.account
    with pytest.raises(NotFound):
        services.support_request_reply(actor=admin, request_id=raised.request_id, body="hi")
    with pytest.raises(NotFound):
        services.support_request_severity_change(actor=admin, request_id=raised.request_id, severity="L1")
    with pytest.raises(NotFound):
        services.support_request_resolve(actor=admin, request_id=raised.request_id)
    inactive = AccountFactory(is_staff=True, status="deactivated")
    with pytest.raises(NotFound):
        services.support_request_resolve(actor=inactive, request_id=raised.request_id)
    raised.refresh_from_db()
    assert raised.status == SupportRequest.Status.OPEN
    assert AuditEvent.objects.filter(action__startswith="org:support_request").count() == 1


@pytest.mark.django_db
def test_unknown_request_is_not_found(staff):
    with pytest.raises(NotFound):
        services.support_request_reply(actor=staff, request_id="nope", body="hi")


@pytest.mark.django_db
def test_severity_change_recomputes_from_when_it_was_raised(raised, staff):
    with time_machine.travel(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), tick=False):
        services.support_request_severity_change(actor=staff, request_id=raised.request_id, severity="L1")
    raised.refresh_from_db()
    assert raised.severity == "L1"
    assert raised.response_due_at == datetime(2026, 11, 27, 20, 30, tzinfo=UTC)
    event = one_event("org:support_request:severity_changed")
    assert (event.details["from"], event.details["to"]) == ("L3", "L1")
    for bad in ("L1", "L9"):
        with pytest.raises(InvalidRequest):
            services.support_request_severity_change(actor=staff, request_id=raised.request_id, severity=bad)
    assert AuditEvent.objects.filter(action="org:support_request:severity_changed").count() == 1


@pytest.mark.django_db
def test_resolve_then_comment_reopens(org, org_admin, raised, staff):
    services.support_request_resolve(actor=staff, request_id=raised.request_id)
    raised.refresh_from_db()
    assert raised.status == SupportRequest.Status.RESOLVED and raised.resolved_at
    one_event("org:support_request:resolved")
    with pytest.raises(AlreadyResolved):
        services.support_request_resolve(actor=staff, request_id=raised.request_id)
    with pytest.raises(AlreadyResolved):
        services.support_request_severity_change(actor=staff, request_id=raised.request_id, severity="L2")
    services.support_request_comment(
        org=org, actor=org_admin.account, request_id=raised.request_id, body="Back again"
    )
    raised.refresh_from_db()
    assert raised.status == SupportRequest.Status.OPEN and raised.resolved_at is None
    one_event("org:support_request:commented")


@pytest.mark.django_db
def test_comment_on_another_orgs_request_is_not_found(raised, other_org_admin):
    with pytest.raises(NotFound):
        services.support_request_comment(
            org=other_org_admin.org, actor=other_org_admin.account, request_id=raised.request_id, body="x"
        )
    with pytest.raises(InvalidRequest):
        services.support_request_comment(
            org=raised.org, actor=raised.raised_by, request_id=raised.request_id, body=" "
        )
    assert SupportMessage.objects.count() == 1
