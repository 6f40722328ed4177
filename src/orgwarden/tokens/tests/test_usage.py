"""tokens.usage: introspection's bookkeeping is written behind, in one batch, and nothing is lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db import connections

from orgwarden.accounts.tests.factories import AccountFactory
from orgwarden.orgs.models import Activity, OrgUser
from orgwarden.tokens import usage
from orgwarden.tokens.models import UserApiToken
from orgwarden.tokens.tests.test_introspection import ask
from orgwarden.tokens.user_services import user_token_create

T0 = "2026-03-02T10:00:00Z"


@pytest.fixture
def person(manage, grant):
    account = manage(AccountFactory())
    grant(account)
    return account


@pytest.mark.django_db
def test_calls_are_counted_in_memory_and_written_in_one_batch(
    settings, site, person, django_assert_num_queries
):
    settings.USAGE_FLUSH_SECONDS = 3600  # the timer will not fire during the test
    _, value = user_token_create(account=person, label="cli")
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            assert ask(site, value).json()["active"] is True
    with time_machine.travel("2026-03-02T10:05:00Z", tick=False):
        assert ask(site, value).json()["active"] is True
    assert not Activity.objects.exists()
    assert UserApiToken.objects.get().last_used_at is None
    assert OrgUser.objects.get(account=person).last_active_at is None

    with django_assert_num_queries(7):  # savepoint, accounts and sites still there, 3 writes, release
        assert usage.flush() == 2  # one token, one account × site × day
    assert list(Activity.objects.values_list("day", "api_calls", "signins", "last_at")) == [
        (date(2026, 3, 2), 4, 0, datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
    ]
    assert UserApiToken.objects.get().last_used_at == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    assert OrgUser.objects.get(account=person).last_active_at == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    assert usage.flush() == 0


@pytest.mark.django_db
def test_a_batch_adds_to_what_is_there_and_never_moves_times_back(settings, site, person):
    settings.USAGE_FLUSH_SECONDS = 3600
    _, value = user_token_create(account=person, label="cli")
    with time_machine.travel(T0, tick=False):
        ask(site, value)
    usage.flush()
    with time_machine.travel("2026-03-02T11:00:00Z", tick=False):
        ask(site, value)
        ask(site, value)
    # another worker wrote a later time meanwhile
    later = datetime(2026, 3, 2, 12, tzinfo=UTC)
    OrgUser.objects.filter(account=person).update(last_active_at=later)
    Activity.objects.update(last_at=later)
    UserApiToken.objects.update(last_used_at=later)
    usage.flush()
    row = Activity.objects.get()
    assert (row.api_calls, row.last_at) == (3, later)
    assert OrgUser.objects.get(account=person).last_active_at == later
    assert UserApiToken.objects.get().last_used_at == later


@pytest.mark.django_db
def test_too_many_pending_keys_are_written_by_the_call_that_crosses_the_limit(
    settings, site, person, monkeypatch
):
    settings.USAGE_FLUSH_SECONDS = 3600
    monkeypatch.setattr(usage.BEHIND, "max_pending", 2)
    _, value = user_token_create(account=person, label="cli")
    ask(site, value)  # token + activity: two keys, the limit
    assert Activity.objects.get().api_calls == 1


@pytest.mark.django_db
def test_unknown_tokens_record_nothing(settings, site, person):
    settings.USAGE_FLUSH_SECONDS = 3600
    assert ask(site, "owt_" + "x" * 43).json() == {"active": False}
    assert usage.flush() == 0


@pytest.mark.django_db(transaction=True)
def test_the_timer_writes_without_another_request(settings, site, person):
    settings.USAGE_FLUSH_SECONDS = 1
    _, value = user_token_create(account=person, label="cli")
    assert ask(site, value).json()["active"] is True
    assert not Activity.objects.exists()
    deadline = time.monotonic() + 15
    while not Activity.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Activity.objects.get().api_calls == 1
    assert UserApiToken.objects.get().last_used_at is not None


@pytest.mark.django_db
def test_an_account_deleted_before_the_batch_loses_its_rows_not_the_batch(
    settings, site, person, manage, grant
):
    settings.USAGE_FLUSH_SECONDS = 3600
    other = manage(AccountFactory())
    grant(other)
    _, value = user_token_create(account=person, label="cli")
    _, gone = user_token_create(account=other, label="cli")
    assert ask(site, value).json()["active"] is True
    assert ask(site, gone).json()["active"] is True
    other.delete()
    usage.flush()
    assert list(Activity.objects.values_list("account_id", "api_calls")) == [(person.pk, 1)]
    assert UserApiToken.objects.get().last_used_at is not None


@pytest.mark.django_db(transaction=True)
def test_workers_writing_overlapping_batches_at_once_lose_nothing(settings, site, manage, caplog):
    """Two workers flush batches over the same rows, noted in opposite orders, at the same moment.

    Each locks the rows in one order, so they wait for each other: with the rows written in the
    order they were noted, PostgreSQL found a deadlock and dropped one batch (seen in bench runs).
    """
    settings.USAGE_FLUSH_SECONDS = 3600
    people = [manage(AccountFactory()) for _ in range(60)]
    tokens = [user_token_create(account=p, label="cli")[0] for p in people]
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    org_pk, site_pk = site.site.org_id, site.site.pk

    def batch(order) -> usage._Pending:
        pending = usage._Pending()
        for i in order:
            pending.tokens[tokens[i].pk] = at
            pending.activity[(org_pk, site_pk, people[i].pk, at.date())] = [0, 1, at]
        return pending

    batches = [batch(range(60)), batch(reversed(range(60)))]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def flush(pending) -> None:
        try:
            start.wait(timeout=10)
            for _ in range(3):  # three rounds, each over the same rows
                usage._write(pending)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=flush, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert sorted(Activity.objects.values_list("api_calls", flat=True)) == [6] * 60
    assert set(UserApiToken.objects.values_list("last_used_at", flat=True)) == {at}
    assert set(OrgUser.objects.filter(account__in=people).values_list("last_active_at", flat=True)) == {at}
