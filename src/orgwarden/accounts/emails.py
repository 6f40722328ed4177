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
accepted only where the timing leak demands it. A send that fails, either way, is logged
(``orgwarden.accounts.emails``, ERROR, with the subject and the address) and not retried: the
person, who never learns of it, asks again (or has it sent again: an invitation, a verification).
On a normal stop (gunicorn's TERM, QUIT or INT,
``max_requests``) the process does not exit before the pool has sent what it holds
(``concurrent.futures`` joins its threads at exit; each send is bounded by ``EMAIL_TIMEOUT``, and
gunicorn's graceful timeout bounds the whole). Tests wait for the pool with ``background_drain``.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.core.mail import send_mail
from django.db import connections, transaction
from django.template.loader import render_to_string

log = logging.getLogger(__name__)

BACKGROUND_SENDERS = 2  # threads per process: a reset is rare, and each waits on the mail server

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pending: set[Future] = set()


def absolute_url(path: str) -> str:
    return settings.BASE_URL.rstrip("/") + path


def send_templated(*, to: str, subject: str, template: str, context: dict) -> bool:
    """Send ``template`` to ``to``; ``False`` if it could not be sent. ``subject`` is made one line:
    it often carries a name someone typed or an IdP sent, and a line break in it would make Django
    refuse the whole message.

    Every caller sends after its change committed (here, billing, support, single sign-on), so a
    mail server that is down, slow past ``EMAIL_TIMEOUT`` or refusing the message (``OSError``,
    ``smtplib``'s errors included) is logged, never raised: raised out of the commit, it made a 500
    of a sign-up, an invitation or a support request that had happened, and stopped a daily job's
    run half-way. The line (``orgwarden.accounts.emails``, ERROR) names the subject and the
    address, never the body, which holds the link; the traceback says why."""
    subject = " ".join(subject.split())
    context = {"installation_name": settings.INSTALLATION_NAME, **context}
    body = render_to_string(template, context)
    try:
        send_mail(f"[{settings.INSTALLATION_NAME}] {subject}", body, None, [to])
    except OSError:
        log.exception("The email %r to %s could not be sent", subject, to)
        return False
    return True


def send_after_commit(*, to: str, subject: str, template: str, context: dict) -> None:
    """``send_templated`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_templated(to=to, subject=subject, template=template, context=context))


def send_after_commit_in_background(*, to: str, subject: str, template: str, context: dict) -> None:
    """``send_templated`` by a background sender once the current transaction commits (at once
    outside one): the caller never waits for the mail server. Failures are logged."""
    message = {"to": to, "subject": subject, "template": template, "context": context}
    transaction.on_commit(lambda: _submit(message))


def background_drain(timeout: float | None = None) -> bool:
    """Wait until every background send handed over so far is done (sent or logged as failed);
    ``False`` if some are still running after ``timeout`` seconds."""
    with _lock:
        pending = set(_pending)
    return not wait(pending, timeout=timeout).not_done


def _submit(message: dict) -> None:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=BACKGROUND_SENDERS, thread_name_prefix="orgwarden-email")
        future = _pool.submit(_send_logged, message)
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


def _after_fork_in_child() -> None:
    # A forked child (a gunicorn worker) has none of its parent's threads: it starts its own pool.
    global _pool, _lock
    _pool, _lock = None, threading.Lock()
    _pending.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
