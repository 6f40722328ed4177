"""When an email the mail server did not take is tried again: the pure part of ``accounts.emails``.

- ``is_transient(exc)``: whether the same message may well be taken a little later. Yes for a mail
  server out of reach (connection refused or reset, timed out, its name not resolved), a connection
  dropped mid-way, and any SMTP 4xx reply (RFC 5321 §4.2.1, "transient negative completion": 421
  shutting down, 450/451 try later, greylisting, 452 no room). No for a 5xx reply (the recipient
  refused, the message rejected, authentication refused), a server without STARTTLS and a
  certificate that does not verify: sent again they fail again, so they are given up at once.
- ``retry_delay(attempts)``: the wait before the next attempt, after ``attempts`` failed ones:
  5 s, then doubling (10, 20, 40, 80 s), at most 2 minutes. A relay restarting for a minute gets
  its mail about a minute later (attempts at 0, 5, 15, 35, 75 s).
- ``concerns_the_mail_server(exc)``: whether the failure says the mail server (or orgwarden's way
  to it) is failing, rather than this one message or recipient being refused (``/readyz`` reports
  the former only).
- ``RetryQueue``: what to try again and when, held in memory, handed on when due by one daemon
  thread (or by whoever calls ``run_due``: a drain in the tests, after moving the clock).

No Django here: the clock is ``time.time`` (time-machine moves it in the tests).
"""

from __future__ import annotations

import heapq
import itertools
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 120.0
_LONGEST_NAP = 30.0  # the queue's thread looks at the clock at least this often (it may be set)

T = TypeVar("T")


def retry_delay(attempts: int) -> float:
    """Seconds to wait after ``attempts`` (1 or more) failed attempts before the next one."""
    return min(FIRST_RETRY_SECONDS * 2 ** (attempts - 1), LONGEST_RETRY_SECONDS)


def _reply_transient(code: int) -> bool:
    # 5xx is permanent; 4xx transient; anything else (smtplib's -1 for a reply it could not read) is
    # not the server's word that it refuses, so it is worth another try.
    return not 500 <= code <= 599


def is_transient(exc: BaseException) -> bool:
    """True if sending the same message again later may succeed (see the module's docstring)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return all(_reply_transient(code) for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):  # sender or data refused, HELO, AUTH, connect
        return _reply_transient(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        return False  # no STARTTLS or AUTH where settings ask for them, a certificate that fails
    return isinstance(exc, OSError)  # refused, reset, timed out, name not resolved


def concerns_the_mail_server(exc: BaseException) -> bool:
    """False when only this message was refused for good: its recipient (``SMTPRecipientsRefused``)
    or its content (``SMTPDataError``) with a 5xx — an address that does not exist says nothing of
    the relay. Anything transient (a 4xx too: the server is deferring) says mail is not leaving."""
    if is_transient(exc):
        return True
    return not isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError)


def describe(exc: BaseException) -> str:
    """What went wrong, on one line, as the mail server or the network said it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, reply = next(iter(exc.recipients.values()))
        said = f"{code} {_text(reply)}"
    elif isinstance(exc, smtplib.SMTPResponseException):
        said = f"{exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        said = f"{type(exc).__name__}: {exc}"
    return " ".join(said.split())


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class RetryQueue(Generic[T]):
    """Items each due at a time (``clock()`` seconds); ``hand_on(item)`` is called for each once it
    is due, by the queue's own daemon thread (started at the first ``schedule``) or by ``run_due``.
    ``hand_on`` must be quick (the emails' one submits to a thread pool). Nothing is kept on disk.
    ``background=False``: no thread, only ``run_due`` hands on (a test's own clock)."""

    def __init__(
        self, hand_on: Callable[[T], None], clock: Callable[[], float] = time.time, *, background: bool = True
    ) -> None:
        self._hand_on = hand_on
        self._clock = clock
        self._background = background
        self._reset()

    def _reset(self) -> None:
        self._changed = threading.Condition()
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # equal due times: first scheduled, first handed on
        self._thread: threading.Thread | None = None

    def schedule(self, item: T, due: float) -> None:
        with self._changed:
            heapq.heappush(self._heap, (due, next(self._order), item))
            if self._thread is None and self._background:
                thread = threading.Thread(target=self._loop, name="orgwarden-email-retry", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # the interpreter is shutting down: the item waits, unsent
                    pass  # (whoever empties the queue at exit reports it)
                else:
                    self._thread = thread
            self._changed.notify_all()

    def run_due(self) -> int:
        """Hand on every item already due (by ``clock``); how many."""
        due = []
        with self._changed:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
            if due:
                self._changed.notify_all()
        for item in due:
            self._hand_on(item)
        return len(due)

    def waiting(self) -> int:
        with self._changed:
            return len(self._heap)

    def next_due(self) -> float | None:
        with self._changed:
            return self._heap[0][0] if self._heap else None

    def take_all(self) -> list[T]:
        """Empty the queue; what it held, in due order."""
        with self._changed:
            items = [entry[2] for entry in sorted(self._heap)]
            self._heap.clear()
            self._changed.notify_all()
        return items

    def wait_changed(self, timeout: float) -> None:
        """Block until the queue changes (an item scheduled or handed on) or ``timeout`` passes."""
        with self._changed:
            self._changed.wait(timeout)

    def after_fork_in_child(self) -> None:
        """A forked child has none of its parent's threads, and must not send its parent's emails."""
        self._reset()

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._heap or self._heap[0][0] > self._clock():
                    nap = _LONGEST_NAP if not self._heap else self._heap[0][0] - self._clock()
                    self._changed.wait(min(max(nap, 0.0), _LONGEST_NAP))
            self.run_due()
