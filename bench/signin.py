"""Complete password sign-ins per second through the real HTTP stack, against bare argon2id.

Prints ONE JSON line. What it does, all on loopback:

1. creates a temporary data directory (SQLite), migrates it and creates ``N_ACCOUNTS`` accounts
   with a password hashed at the production parameters (``Argon2idHasher``);
2. starts ``orgwarden serve`` (gunicorn, 2 sync workers) on a free port in 8770-8799, with the
   sign-in throttle set high enough that it never interferes;
3. for ``DURATION`` seconds, 2 client threads each run complete sign-ins, one after another:
   GET /login (CSRF cookie and token), POST the email (redirected to the password step), GET the
   password step, POST the password, and expect a redirect away from the sign-in pages;
4. for the same duration, 2 processes run ``argon2.PasswordHasher(...).verify`` at the same
   parameters: the ceiling a sign-in could reach if nothing but the hash cost anything.

``ratio`` is sign-ins per second over bare verifications per second. The client threads share the
machine's 2 cores with the server, as in DESIGN.md's other measurements.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import _harness  # bench/ is the script's directory, so it is on sys.path
import httpx
from _harness import free_port, log, orgwarden, serve_process, wait_healthy

DURATION = float(os.environ.get("BENCH_DURATION", "15"))
CLIENTS = 2
WORKERS = 2
N_ACCOUNTS = 40
MAX_SIGNINS_PER_CLIENT = 100_000  # bounds the loop even if the clock misbehaves
PASSWORD = "bench password, long and unusual 7431"
KEYCLOAK_BUDGET_PER_VCPU = 15  # Keycloak's sizing guide: password logins/s per vCPU (Argon2, 5 x 7 MiB)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def server_env(data_dir: Path, base: str) -> dict[str, str]:
    return _harness.server_env(
        data_dir, base, workers=WORKERS, ORGWARDEN_SIGNIN_THROTTLE_PER_MINUTE="1000000000"
    )


def create_accounts(env: dict[str, str]) -> None:
    script = (
        "from orgwarden.accounts.services import account_create\n"
        f"for i in range({N_ACCOUNTS}):\n"
        f"    account_create(email=f'bench{{i}}@example.com', display_name=f'Bench {{i}}',\n"
        f"                   password={PASSWORD!r}, email_verified=True, via='bench')\n"
    )
    orgwarden("migrate", "--noinput", "-v", "0", env=env)
    orgwarden("createcachetable", env=env)
    orgwarden("shell", "-c", script, env=env)


def csrf_token(response: httpx.Response) -> str:
    match = CSRF_INPUT.search(response.text)
    if not match:
        raise RuntimeError(f"no CSRF token on {response.url} ({response.status_code})")
    return match.group(1)


def sign_in(client: httpx.Client, email: str) -> bool:
    """One complete password sign-in with fresh cookies. True if it ended signed in."""
    client.cookies.clear()
    page = client.get("/login")
    step = client.post("/login", data={"csrfmiddlewaretoken": csrf_token(page), "email": email})
    if step.status_code != 302 or "/login/step/password" not in step.headers.get("location", ""):
        return False
    form = client.get(step.headers["location"])
    done = client.post(
        step.headers["location"], data={"csrfmiddlewaretoken": csrf_token(form), "password": PASSWORD}
    )
    return done.status_code == 302 and not done.headers.get("location", "").startswith("/login")


def client_loop(base: str, index: int, deadline: float, timings: list[float], failures: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        for n in range(MAX_SIGNINS_PER_CLIENT):
            if time.monotonic() >= deadline:
                break
            email = f"bench{(index + n * CLIENTS) % N_ACCOUNTS}@example.com"
            started = time.perf_counter()
            ok = sign_in(client, email)
            elapsed = time.perf_counter() - started
            if ok:
                timings.append(elapsed)
            else:
                failures.append(1)


def measure_signins(base: str) -> tuple[list[float], int, float]:
    timings: list[float] = []
    failures: list[int] = []
    started = time.monotonic()
    deadline = started + DURATION
    threads = [
        threading.Thread(target=client_loop, args=(base, i, deadline, timings, failures))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings, len(failures), time.monotonic() - started


KEYCLOAK_PARAMS = {"time_cost": 5, "memory_cost_kib": 7 * 1024, "parallelism": 1}


def argon2_parameters() -> dict[str, int]:
    from orgwarden.accounts.hashers import Argon2idHasher

    return {
        "time_cost": Argon2idHasher.time_cost,
        "memory_cost_kib": Argon2idHasher.memory_cost,
        "parallelism": Argon2idHasher.parallelism,
    }


def bare_verify_loop(params: dict[str, int], duration: float, results) -> None:
    import argon2

    hasher = argon2.PasswordHasher(
        time_cost=params["time_cost"],
        memory_cost=params["memory_cost_kib"],
        parallelism=params["parallelism"],
        hash_len=32,
        salt_len=16,
        type=argon2.Type.ID,
    )
    encoded = hasher.hash(PASSWORD)
    count = 0
    deadline = time.monotonic() + duration
    for _ in range(MAX_SIGNINS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        hasher.verify(encoded, PASSWORD)
        count += 1
    results.put(count)


def measure_bare(params: dict[str, int]) -> float:
    results: multiprocessing.Queue = multiprocessing.Queue()
    started = time.monotonic()
    procs = [
        multiprocessing.Process(target=bare_verify_loop, args=(params, DURATION, results))
        for _ in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    counts = [results.get(timeout=DURATION + 60) for _ in procs]
    for proc in procs:
        proc.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    params = argon2_parameters()
    with tempfile.TemporaryDirectory(prefix="orgwarden-bench-") as tmp:
        port = free_port(8770, 8799)
        base = f"http://127.0.0.1:{port}"
        env = server_env(Path(tmp), base)
        log(f"creating {N_ACCOUNTS} accounts in {tmp}")
        create_accounts(env)
        server = serve_process(env, port)
        try:
            wait_healthy(base, server)
            log(f"signing in for {DURATION:.0f} s with {CLIENTS} clients against {WORKERS} workers")
            timings, failures, elapsed = measure_signins(base)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)
    if failures or not timings:
        raise SystemExit(f"{failures} sign-ins failed, {len(timings)} succeeded")
    log(f"bare argon2id verify for {DURATION:.0f} s in {WORKERS} processes")
    bare = measure_bare(params)
    log("bare argon2id verify at Keycloak's parameters (5 passes x 7 MiB)")
    bare_keycloak = measure_bare(KEYCLOAK_PARAMS)

    ordered = sorted(timings)
    per_second = len(timings) / elapsed
    result = {
        "operation": "password_signin",
        "n": len(timings),
        "per_second": round(per_second, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "database": "sqlite",
        "workers": WORKERS,
        "clients": CLIENTS,
        "duration_s": round(elapsed, 1),
        "argon2": params,
        "bare_hash_per_second": round(bare, 1),
        "ratio": round(per_second / bare, 2),
        "keycloak_budget_per_vcpu": KEYCLOAK_BUDGET_PER_VCPU,
        "per_vcpu": round(per_second / 2, 1),
        "keycloak_params": KEYCLOAK_PARAMS,
        "bare_hash_per_second_keycloak_params": round(bare_keycloak, 1),
        # The framework's measured share applied to the hash at Keycloak's parameters.
        "estimated_per_vcpu_at_keycloak_params": round(bare_keycloak * per_second / bare / 2, 1),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
