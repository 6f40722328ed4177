"""Emails the accounts domain sends. Always queued with ``transaction.on_commit``: a change that
rolls back sends nothing (DESIGN rule 7).

Two ways out, both after commit:

- ``send_after_commit``: sent in the request that made the change, once it commits. The default.
  A send that fails is logged (below) and the request answers as usual: the change is made.
- ``send_after_commit_in_background``: handed, once the change commits, to a small pool of sender
  threads in this process (``BACKGROUND_SENDERS``), so the request answers without waiting for the
  mail server. For the answers that must take the same time whether or not an account exists: a
  password-reset request (accounts' and each help center's). Sent in the request, a reset for an
  address with an account took an SMTP exchange longer than one for an unknown address — a timing
  signal that told anyone who measured it what the same-message answer hides. What remains is one
  database write (the audit event), well under the network's jitter, and the reset throttles (5
  requests an hour per address) leave no room for the many samples needed to average it out.

Why not everything in the background: the other emails answer someone who already knows what the
timing could tell (the account's owner changing its email, an admin inviting, a sign-up — which
says whether an address is taken, see the README's Security section), so they gain nothing from it;
and a queue in memory is lost if the process is killed hard (SIGKILL, out of memory), which is
accepted only where the timing leak demands it.

Retries. Most of these emails carry a one-time link (sign-in, invitation, password reset, email
verification) and the person waits for it, so a mail relay restarting for a minute must not lose
them. A failure the mail server may get over (out of reach, timed out, the connection dropped, an
SMTP 4xx reply: ``email_delivery.is_transient``) is tried again by the background senders after 5 s,
then 10, 20, 40, 80 s, then every 2 minutes, for at most ``EMAIL_RETRY_SECONDS`` after the first
failure (``ORGWARDEN_EMAIL_RETRY_MINUTES``, 10; 0 turns retries off): each such failure is logged
at WARNING with when the next attempt is. A 5xx reply (the recipient refused, the message or the
credentials rejected) is not tried again. The request never waits for a retry: its first attempt
is made as before (in the request, or in the background for resets) and the retries are the
background senders' — a reset still answers in the same time whether or not the account exists.

The retries are held in this process's memory, as the rendered message: never in the database,
where the links' tokens are stored only hashed (DESIGN rule 3) and a plain copy of the email would
undo that. So what waits for a retry is lost when the process stops — at most the emails of the
last ``EMAIL_RETRY_SECONDS`` whose mail server was failing, less those a stop's last attempt sends
(below) — and each is then logged as given up (a normal stop) or not at all (SIGKILL).
``orgwarden daily`` waits for its own emails' retries before it exits (``background_finish``): its
domain-proof, certificate and trial warnings go out once a day. SMTP cannot promise exactly
once: a connection dropped after the message was taken but before the server said so sends it
again.

Each email finally not sent is logged once at ERROR (``orgwarden.accounts.emails``) with its
subject, its address, why, and how many attempts were made; JSON lines carry ``recipient_domain``
and ``attempts`` too. Never the body: it holds the link. While the mail server is failing (the
last attempt failed for a reason other than its recipient or content) ``/readyz`` says so in its
answer, still 200: sign-in by password or single sign-on works without mail, and taking every
instance out of the load balancer for it would make a mail outage a full one. It says so until an
email leaves again (the state is in the shared cache, so every process reports the same).

When a server worker is told to stop (SIGTERM, as systemd and docker stop it; ``max_requests``),
the emails waiting for a retry do not wait for their turn: ``retries_last_attempt`` tries each once
more at once, whenever its retry was due, beside the requests the worker is still finishing, and
returns before the stop's deadline (``ORGWARDEN_GRACEFUL_TIMEOUT``, ``orgwarden.worker``) whatever
the mail server does. Each that fails again, or that the deadline leaves untried or mid-attempt, is
logged at ERROR as given up like any other (subject and address, never the body); from then on a
send that fails is given up at once, nobody being left to try it again. A quick stop (SIGINT,
SIGQUIT: Ctrl-C) makes no last attempt: what waits is logged as given up as the process exits.
The process does not exit before the pool has made the first attempts it holds
(``concurrent.futures`` joins its threads at exit; each is bounded by ``EMAIL_TIMEOUT``, and
gunicorn's graceful timeout bounds the whole). Tests wait for the pool with ``background_drain``,
which also makes the retries already due (after a test moved the clock with time-machine), and
forget the rest with ``background_forget_retries``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.db import connections, transaction
from django.template.loader import render_to_string

from orgwarden import humanize
from orgwarden.accounts import email_delivery

log = logging.getLogger(__name__)

BACKGROUND_SENDERS = 2  # threads per process: a reset is rare, and each waits on the mail server
# Emails one process holds for a retry at most (a bulk invitation while the relay is down): past
# it a failure is given up at once, so a long outage cannot grow the process's memory without end.
MOST_WAITING_RETRIES = 10_000
# In the shared cache while the mail server is failing: when it began (ISO 8601, UTC). /readyz reads it.
FAILING_KEY = "orgwarden:email:failing"

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pending: set[Future] = set()
_stopping = False  # set by retries_last_attempt: a failure from then on is given up at once


@dataclass(eq=False)
class _Email:
    """One email on its way, rendered once: retries send the same message (and link)."""

    to: str
    subject: str
    message: EmailMessage
    attempts: int = 0
    first_failed_at: float | None = None

    @property
    def recipient_domain(self) -> str:
        return self.to.rpartition("@")[2].lower()


def absolute_url(path: str) -> str:
    return settings.BASE_URL.rstrip("/") + path


def send_templated(*, to: str, subject: str, template: str, context: dict) -> bool:
    """Send ``template`` to ``to``; ``True`` if the mail server took it now, ``False`` if not (it
    may still leave on a retry, see the module's docstring). ``subject`` is made one line: it often
    carries a name someone typed or an IdP sent, and a line break in it would make Django refuse
    the whole message.

    Every caller sends after its change committed (here, billing, support, single sign-on), so a
    mail server that is down, slow past ``EMAIL_TIMEOUT`` or refusing the message (``OSError``,
    ``smtplib``'s errors included) is logged and retried or given up, never raised: raised out of
    the commit, it made a 500 of a sign-up, an invitation or a support request that had happened,
    and stopped a daily job's run half-way. The caller never waits for a retry."""
    subject = " ".join(subject.split())
    context = {"installation_name": settings.INSTALLATION_NAME, **context}
    body = render_to_string(template, context)
    message = EmailMessage(f"[{settings.INSTALLATION_NAME}] {subject}", body, None, [to])
    return _attempt(_Email(to=to, subject=subject, message=message))


def send_after_commit(*, to: str, subject: str, template: str, context: dict) -> None:
    """``send_templated`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_templated(to=to, subject=subject, template=template, context=context))


def send_after_commit_in_background(*, to: str, subject: str, template: str, context: dict) -> None:
    """``send_templated`` by a background sender once the current transaction commits (at once
    outside one): the caller never waits for the mail server. Failures are logged."""
    message = {"to": to, "subject": subject, "template": template, "context": context}
    transaction.on_commit(lambda: _submit(_send_logged, message))


def mail_failing_since() -> str | None:
    """When the mail server began failing (ISO 8601, UTC), or ``None`` if the last attempt of any
    process worked. Reads the shared cache, and raises what it raises (``/readyz`` reports it)."""
    return cache.get(FAILING_KEY)


def background_drain(timeout: float | None = None) -> bool:
    """Wait until every background send handed over so far is done — sent, given up, or waiting
    for a retry not yet due — making each retry already due on the way; ``False`` if some are
    still running after ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        _retries.run_due()
        with _lock:
            pending = set(_pending)
        if not pending and not _retries_due():
            return True
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if wait(pending, timeout=left).not_done:
            return False


def background_finish(timeout: float | None = None) -> bool:
    """``background_drain``, then wait for every retry too, until each email is sent or given up
    (at most ``EMAIL_RETRY_SECONDS`` after its first failure, and its last attempt); ``False`` if
    some are still waiting after ``timeout`` seconds. For a command's process before it exits."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not background_drain(left):
            return False
        due = _retries.next_due()
        if due is None:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        _retries.wait_changed(min(max(due - time.time(), 0.0), 1.0))


def background_forget_retries() -> int:
    """Drop every retry waiting in this process, unlogged; how many. For the tests: a retry one
    test left must not land in the next one's outbox."""
    return len(_retries.take_all())


def _retries_due() -> bool:
    due = _retries.next_due()
    return due is not None and due <= time.time()


def retries_last_attempt(*, until: float) -> int:
    """For a process that is stopping: every email waiting for a retry is tried once more now, one
    after another, until ``until`` (``time.monotonic()``); returns how many the mail server took.
    Each that failed again, or that ``until`` left untried or mid-attempt, is logged as given up.
    From the call on, a send that fails is given up at once instead of waiting for a retry.

    Returns by ``until`` whatever the mail server does (a hung one holds each attempt for
    ``EMAIL_TIMEOUT``): the attempts run in a daemon thread, left behind at ``until``; only this
    caller logs, so no email is reported twice. Raises nothing the mail server says."""
    global _stopping
    _stopping = True
    waiting = _retries.take_all()
    if not waiting:
        return 0
    lock = threading.Lock()
    outcomes: list[BaseException | None] = []  # of waiting[i], in order: None once it was taken
    cut = threading.Event()  # the caller has reported: the thread reports nothing more

    def attempt_each() -> None:
        try:
            for email in waiting:
                if cut.is_set():
                    return
                try:
                    error = _send(email)
                except Exception as exc:  # not the mail server's: a defect, reported as such
                    error = exc
                if isinstance(error, OSError) and email_delivery.concerns_the_mail_server(error):
                    _mail_fails()
                with lock:
                    if cut.is_set():
                        return
                    outcomes.append(error)
        finally:
            connections.close_all()

    sender = threading.Thread(target=attempt_each, name="orgwarden-email-last-attempts", daemon=True)
    sender.start()
    try:
        sender.join(max(until - time.monotonic(), 0.0))
    finally:  # even if the join is interrupted (a second signal): each email is reported once
        with lock:
            cut.set()
            settled = list(outcomes)
        for index, email in enumerate(waiting):
            if index < len(settled):
                error = settled[index]
                if error is not None:
                    _given_up(email, error, f"the server stopped; its last attempt failed ({_said(error)})")
            elif index == len(settled) and sender.is_alive():
                _given_up(email, None, "the server stopped before its last attempt finished")
            else:
                _given_up(email, None, "the server stopped before its last attempt could be made")
    sent = settled.count(None)
    log.info(
        "Stopping: %s waiting for a retry given a last attempt: %d sent, %d given up",
        humanize.plural(len(waiting), "email"),
        sent,
        len(waiting) - sent,
    )
    return sent


def _said(error: BaseException) -> str:
    if isinstance(error, OSError):
        return email_delivery.describe(error)
    return "an error that is not the mail server's"


def _attempt(email: _Email) -> bool:
    error = _send(email)
    if error is not None:
        _failed(email, error)
    return error is None


def _send(email: _Email) -> OSError | None:
    """One attempt, unlogged: what the mail server (or the network) said, or ``None`` once it took
    the email."""
    email.attempts += 1
    try:
        get_connection().send_messages([email.message])
    except OSError as exc:  # the mail server's (smtplib's errors are OSErrors) or the network's
        return exc
    _mail_works()
    return None


def _failed(email: _Email, exc: OSError) -> None:
    now = time.time()
    if email.first_failed_at is None:
        email.first_failed_at = now
    if email_delivery.concerns_the_mail_server(exc):
        _mail_fails()
    reason = email_delivery.describe(exc)
    if not email_delivery.is_transient(exc):
        return _given_up(email, exc, f"the mail server refused it, not retried ({reason})")
    if _stopping:
        return _given_up(email, exc, f"not retried, the server is stopping ({reason})")
    window = settings.EMAIL_RETRY_SECONDS
    if not window:
        return _given_up(email, exc, f"not retried, ORGWARDEN_EMAIL_RETRY_MINUTES is 0 ({reason})")
    if _retries.waiting() >= MOST_WAITING_RETRIES:
        return _given_up(
            email, exc, f"not retried, {MOST_WAITING_RETRIES} emails already wait for one ({reason})"
        )
    delay = email_delivery.retry_delay(email.attempts)
    if now + delay > email.first_failed_at + window:
        minutes = max(round((now - email.first_failed_at) / 60), 1)
        return _given_up(
            email, exc, f"given up after {email.attempts} attempts in about {minutes} min ({reason})"
        )
    log.warning(
        "The email %r to %s could not be sent (%s); trying again in %d s",
        email.subject,
        email.to,
        reason,
        delay,
        extra={"recipient_domain": email.recipient_domain, "attempts": email.attempts},
    )
    _retries.schedule(email, now + delay)


def _given_up(email: _Email, exc: BaseException | None, why: str) -> None:
    log.error(
        "The email %r to %s could not be sent: %s",
        email.subject,
        email.to,
        why,
        exc_info=exc,
        extra={"recipient_domain": email.recipient_domain, "attempts": email.attempts},
    )


def _mail_fails() -> None:
    try:  # add: keeps when the failing began
        cache.add(FAILING_KEY, datetime.now(UTC).isoformat(timespec="seconds"), timeout=None)
    except Exception:  # the cache out of reach: /readyz says that already; the email matters more
        log.debug("Could not note in the shared cache that emails fail", exc_info=True)


def _mail_works() -> None:
    try:  # read first: a write for every email sent would be a write per reset, for nothing
        if cache.get(FAILING_KEY) is not None:
            cache.delete(FAILING_KEY)
    except Exception:
        log.debug("Could not note in the shared cache that emails leave again", exc_info=True)


def _submit(task, argument) -> None:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=BACKGROUND_SENDERS, thread_name_prefix="orgwarden-email")
        future = _pool.submit(task, argument)
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future) -> None:
    with _lock:
        _pending.discard(future)


def _send_logged(message: dict) -> None:
    try:
        send_templated(**message)
    except Exception:  # not the mail server's (send_templated logs those): nothing else would tell
        log.exception("The email %r to %s could not be sent", message["subject"], message["to"])
    finally:
        connections.close_all()  # this thread's own, should a template or backend have opened one


def _retry_logged(email: _Email) -> None:
    try:
        _attempt(email)
    except Exception as exc:  # not the mail server's: a defect, which another attempt would repeat
        _given_up(email, exc, "an error that is not the mail server's")
    finally:
        connections.close_all()


def _hand_on_retry(email: _Email) -> None:
    try:
        _submit(_retry_logged, email)
    except RuntimeError:  # the interpreter is shutting down: the pool takes nothing more
        _given_up(email, None, "the process stopped before its next attempt")


_retries: email_delivery.RetryQueue[_Email] = email_delivery.RetryQueue(_hand_on_retry)


@atexit.register
def _retries_lost_at_exit() -> None:
    # After the pool's threads were joined (concurrent.futures joins them before atexit runs).
    for email in _retries.take_all():
        _given_up(email, None, "the process stopped before its next attempt")


def _after_fork_in_child() -> None:
    # A forked child (a gunicorn worker) has none of its parent's threads: it starts its own pool.
    global _pool, _lock, _stopping
    _pool, _lock, _stopping = None, threading.Lock(), False
    _pending.clear()
    _retries.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
