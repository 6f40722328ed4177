"""Time-sortable identifiers (ULID, https://github.com/ulid/spec), pure and framework-free.

26 Crockford base-32 characters: 48 bits of milliseconds since the epoch, then 80 random bits.
Sorting ids as strings sorts them by creation time, which is what keyset pagination of the audit
log relies on (``id < cursor``) — and it needs no second index on the timestamp.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 26


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(ALPHABET[index])
    return "".join(reversed(chars))


_lock = threading.Lock()
_last: list[int] = [0, 0]  # [millis, random] of the last id made by this process


def new_ulid(at: datetime | None = None) -> str:
    """A new id for the moment ``at`` (default: now).

    Monotonic within a process: a second id in the same millisecond takes the previous random
    part plus one, so events one request records in quick succession keep their order. Ids made
    by different processes in the same millisecond order randomly, which is the best a clock can do.
    """
    millis = int((at.timestamp() if at else time.time()) * 1000)
    with _lock:
        if millis == _last[0] and _last[1] < 2**80 - 1:
            random_part = _last[1] + 1
        else:
            random_part = secrets.randbits(79)  # headroom for increments within the millisecond
        _last[0], _last[1] = millis, random_part
    return _encode(millis, 10) + _encode(random_part, 16)


def ulid_floor(at: datetime) -> str:
    """The smallest id that can be made at ``at``: ids >= it were made at or after ``at``."""
    return _encode(int(at.timestamp() * 1000), 10) + "0" * 16


def ulid_time(value: str) -> datetime:
    millis = 0
    for char in value[:10]:
        millis = millis * 32 + ALPHABET.index(char)
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def is_ulid(value: str) -> bool:
    return len(value) == LENGTH and all(char in ALPHABET for char in value) and value[0] <= "7"
