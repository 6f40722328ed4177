"""``orgwarden daily``: the daily jobs run once per UTC day, and one failing does not stop the others."""

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from orgwarden import jobs
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.audit.services import Actor
from orgwarden.orgs.services import users
from orgwarden.orgs.services.claims import account_claim

pytestmark = pytest.mark.django_db
DAY = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_daily_runs_due_deletions_once_a_day(org, org_admin):
    person = AccountFactory(email="leaver@acme.test")
    with transaction.atomic():
        account_claim(org=org, account=person, domain=None, actor=Actor.system())
    with time_machine.travel(DAY - timedelta(days=15), tick=False):
        users.user_deletion_schedule(org=org, actor=org_admin.account, account_id=person.account_id)
    with time_machine.travel(DAY, tick=False):
        call_command("daily")
    person.refresh_from_db()
    assert person.status == Account.Status.CLOSED and person.email.endswith("@deleted.invalid")

    # A job that always fails shows whether the jobs ran: not again the same day (the lock is in
    # the shared cache, so every process and machine sees it), again the next day.
    jobs.DAILY_COMMANDS, saved = (("no-such-command",),), jobs.DAILY_COMMANDS
    try:
        with time_machine.travel(DAY + timedelta(hours=5), tick=False):
            assert jobs.run_daily() == 0
        with time_machine.travel(DAY + timedelta(days=1), tick=False):
            assert jobs.run_daily() == 1
    finally:
        jobs.DAILY_COMMANDS = saved


def test_a_failing_job_does_not_stop_the_others_and_fails_the_command():
    saved = jobs.DAILY_COMMANDS
    jobs.DAILY_COMMANDS = (("no-such-command",), ("check",))
    try:
        with time_machine.travel(DAY, tick=False), pytest.raises(CommandError, match="1 daily job"):
            call_command("daily", force=True)
    finally:
        jobs.DAILY_COMMANDS = saved


@pytest.mark.django_db(transaction=True)
def test_the_insights_refresh_holds_no_connection_between_passes():
    # A connection left idle for a minute may be gone (server restart, idle timeout) at the next pass.
    connection.ensure_connection()
    assert jobs.refresh_loop(every=0, passes=1) == 1
    assert connection.connection is None


def test_what_the_jobs_report_is_logged_not_printed(caplog, capsys):
    """Printed, a job's summary was the one plain-text line in a JSON log (ORGWARDEN_LOG_FORMAT=json)."""
    with caplog.at_level("INFO", logger="orgwarden.jobs"), time_machine.travel(DAY, tick=False):
        assert jobs.run_daily(force=True) == 0
    reported = [record for record in caplog.records if record.name == "orgwarden.jobs"]
    assert any(record.getMessage().startswith("Re-checked 0 verified domains") for record in reported)
    assert {record.job for record in reported} >= {"domains recheck", "insights daily"}
    assert capsys.readouterr().out == ""


def test_a_run_stopped_part_way_gives_the_day_back_and_the_next_one_runs_only_what_it_had_not_finished(
    caplog,
):
    """The server stopping ends ``orgwarden daily`` with ``SystemExit`` (``jobs.stopping_on_sigterm``)
    wherever it is: the day's lock was kept, and the jobs after the stopped one waited a day."""
    stopped = ("shell", "--command=raise SystemExit(143)")  # a job the server's SIGTERM interrupts
    saved = jobs.DAILY_COMMANDS
    try:
        jobs.DAILY_COMMANDS = (("check",), stopped, ("shell", "--command=print('third')"))
        with time_machine.travel(DAY, tick=False), pytest.raises(SystemExit):
            jobs.run_daily()
        assert "daily jobs stopped during shell --command=raise SystemExit(143)" in caplog.text

        caplog.clear()
        jobs.DAILY_COMMANDS = (
            ("check",),
            ("shell", "--command=print('second')"),
            ("shell", "--command=print('third')"),
        )
        with (
            caplog.at_level("INFO", logger="orgwarden.jobs"),
            time_machine.travel(DAY + timedelta(hours=1), tick=False),
        ):
            assert jobs.run_daily() == 0
        ran = {getattr(record, "job", None) for record in caplog.records if record.name == "orgwarden.jobs"}
        # check had finished before the stop: not run twice
        assert ran == {"shell --command=print('second')", "shell --command=print('third')"}

        caplog.clear()
        with (
            caplog.at_level("INFO", logger="orgwarden.jobs"),
            time_machine.travel(DAY + timedelta(hours=2), tick=False),
        ):
            assert jobs.run_daily() == 0
        assert [record.getMessage() for record in caplog.records] == ["daily jobs already ran today"]
    finally:
        jobs.DAILY_COMMANDS = saved


def test_sigterm_ends_the_block_as_an_exception_and_the_handler_is_given_back():
    """What ``orgwarden daily`` runs under: the signal the server's shutdown sends becomes
    ``SystemExit`` inside the run (its transaction rolls back), and only inside it."""
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stopped, jobs.stopping_on_sigterm(), transaction.atomic():
        AccountFactory(email="half-done@acme.test")
        os.kill(os.getpid(), signal.SIGTERM)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert not Account.objects.filter(email="half-done@acme.test").exists()  # rolled back
    assert signal.getsignal(signal.SIGTERM) is before
