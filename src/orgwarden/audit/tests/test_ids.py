from datetime import UTC, datetime

from orgwarden.audit.ids import is_ulid, new_ulid, ulid_floor, ulid_time


def test_ids_sort_by_time_and_are_monotonic_within_a_millisecond():
    at = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    ids = [new_ulid(at) for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert all(is_ulid(value) for value in ids)
    later = new_ulid(datetime(2026, 11, 27, 12, 0, 1, tzinfo=UTC))
    assert later > ids[-1]


def test_floor_and_time_round_trip():
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert ulid_time(ulid_floor(at)) == at
    assert ulid_floor(at) <= new_ulid(at)
    assert not is_ulid("not-an-id") and not is_ulid("Z" * 26)
