"""A fork of the server (a gunicorn worker) never lands inside a job thread's ``Popen``.

``Popen`` waits until its child has exec'd, on a pipe whose write end closes at that exec; a worker
forked by the arbiter in that instant inherited the write end and kept it open for its life, and the
``Popen`` never returned: that job never ran again (the daily jobs stopped until a restart; holding
``_children_lock``, the insights refresh never started — ``test_cli``'s serve test saw no refresher
in about one start in eight). ``jobs`` makes every fork of the process wait for a ``Popen`` under
way (``_fork_lock``, ``os.register_at_fork``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from orgwarden import jobs


def test_a_fork_waits_while_a_job_thread_starts_its_child(monkeypatch):
    inside, go_on = threading.Event(), threading.Event()
    started = []
    real_popen = subprocess.Popen

    def popen(command, *args, **kwargs):  # the job's Popen, held open until the test says so
        inside.set()
        go_on.wait(10)
        child = real_popen([sys.executable, "-c", "pass"])
        started.append(child)
        return child

    monkeypatch.setattr(jobs.subprocess, "Popen", popen)
    monkeypatch.setattr(jobs, "_children", {})
    monkeypatch.setattr(jobs, "_stopping", threading.Event())  # this test's jobs only
    job = None
    try:
        job = jobs._repeat("fork-test", ["version"], 3600)
        assert inside.wait(10)

        forked = []

        def fork() -> None:  # what gunicorn's arbiter does to start a worker
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            forked.append(pid)
            os.waitpid(pid, 0)

        forker = threading.Thread(target=fork)
        forker.start()
        forker.join(0.5)
        assert forked == []  # it waits for the Popen: before, it forked at once, inside it
        go_on.set()
        forker.join(10)
        assert len(forked) == 1 and len(started) == 1
    finally:
        go_on.set()
        jobs._stopping.set()  # the job thread ends after this run
        if job is not None:
            job.join(10)
        for child in started:
            child.wait(10)
