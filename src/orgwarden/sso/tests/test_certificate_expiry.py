"""Admins are warned once, by email, when their IdP's last signing certificate nears expiry."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from orgwarden.audit.models import AuditEvent
from orgwarden.sso import services

pytestmark = pytest.mark.django_db


def test_warns_once_within_thirty_days_and_not_before(
    connection, org_admin, mailoutbox, django_capture_on_commit_callbacks
):
    not_after = connection.certificates.get().not_after
    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificates_expiry_warn(now=not_after - timedelta(days=31)) == 0
    assert not mailoutbox

    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificates_expiry_warn(now=not_after - timedelta(days=29)) == 1
    [mail] = mailoutbox
    assert mail.to == [org_admin.account.email] and "Test IdP" in mail.subject
    event = AuditEvent.objects.get(action="org:idp:certificate_expiring")
    assert event.org_id == connection.org.org_id and event.actor_type == "system"

    # Once only.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificates_expiry_warn(now=not_after - timedelta(days=10)) == 0
    assert len(mailoutbox) == 1


def test_a_newer_certificate_for_rollover_means_no_warning(connection, idp_keys, org_admin):
    from orgwarden.sso.models import SamlCertificate

    current = connection.certificates.get()
    SamlCertificate.objects.create(
        connection=connection,
        pem=current.pem,
        fingerprint_sha256="0" * 64,
        not_after=current.not_after + timedelta(days=365),
    )
    assert services.certificates_expiry_warn(now=current.not_after - timedelta(days=5)) == 0


def test_the_command_runs(connection, capsys):
    call_command("sso", "check-certificates")
    assert "expiry warning" in capsys.readouterr().out


def test_a_line_break_in_an_idp_name_neither_breaks_the_warning_nor_is_kept(
    connection, org_admin, mailoutbox, django_capture_on_commit_callbacks
):
    """A name with a line break (typed by an admin, or stored before names were made one line)
    made Django refuse the warning's subject and stopped the job before other orgs' warnings."""
    from orgwarden.orgs.models import Directory

    Directory.objects.filter(pk=connection.directory.pk).update(name="Okta\r\nX-Evil: 1")
    not_after = connection.certificates.get().not_after
    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificates_expiry_warn(now=not_after - timedelta(days=29)) == 1
    [mail] = mailoutbox
    assert "Okta X-Evil: 1" in mail.subject and "\n" not in mail.subject
    assert services._name("  Okta\r\nX-Evil:\t1 ") == "Okta X-Evil: 1"
