"""The log's two formats: lines for people, JSON lines for a pipeline (``ORGWARDEN_LOG_FORMAT``)."""

from __future__ import annotations

import json
import logging
import re
import sys

import httpx
import pytest
from django.test import RequestFactory

from orgwarden import config, logs
from orgwarden.logs import JsonLineFormatter, TextFormatter
from orgwarden.testing.serve import serving


def record(name: str, level: int, message: str, args=None, **extra) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_text_lines_say_when_in_utc_how_bad_who_and_what():
    line = TextFormatter().format(record("orgwarden.scim", logging.WARNING, "refused %s", ("x",)))
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING \[\d+\] orgwarden\.scim: refused x", line
    )


def test_json_lines_carry_the_request_of_django_request_records_not_the_object():
    request = RequestFactory().post("/scim/directory/d/Users?x=1")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record(
            "django.request",
            logging.ERROR,
            "Internal Server Error: %s",
            ("/scim/directory/d/Users",),
            request=request,
            status_code=500,
            exc_info=sys.exc_info(),
        )
    data = json.loads(JsonLineFormatter().format(failed))
    assert data["level"] == "ERROR" and data["logger"] == "django.request"
    assert data["message"] == "Internal Server Error: /scim/directory/d/Users"
    assert (data["method"], data["path"], data["status"]) == ("POST", "/scim/directory/d/Users", 500)
    assert "ValueError: boom" in data["exc_info"] and "request" not in data
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", data["time"])


def test_a_bad_format_stops_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("ORGWARDEN_LOG_FORMAT", "xml")
    with pytest.raises(config.ConfigError, match="ORGWARDEN_LOG_FORMAT must be text or json, not 'xml'"):
        config.log_format()


def test_a_bad_level_stops_the_command_with_one_clear_line(tmp_path):
    """It was a traceback from logging's dictConfig ("Unable to configure root logger")."""
    import subprocess

    from orgwarden.testing.serve import clean_env

    done = subprocess.run(
        [sys.executable, "-m", "orgwarden.cli", "check"],
        env=clean_env(tmp_path, ORGWARDEN_LOG_LEVEL="verbose"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "configuration error: ORGWARDEN_LOG_LEVEL must be one of DEBUG, INFO" in done.stderr


def test_orgwarden_serve_with_json_logs_writes_nothing_but_json_lines(tmp_path, migrated):
    with serving(tmp_path, migrated=migrated, ORGWARDEN_LOG_FORMAT="json", ORGWARDEN_LOG_LEVEL="INFO") as (
        base,
        log,
    ):
        missing = httpx.get(f"{base}/no-such-page", params={"q": "1"}, headers={"User-Agent": "probe/1"})
        assert missing.status_code == 404
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]  # each one is JSON

    assert any(line["message"] == f"orgwarden is starting at {base}/" for line in lines)
    assert any("/setup/" in line["message"] and line["logger"] == "orgwarden" for line in lines)
    access = [
        line for line in lines if line["logger"] == "gunicorn.access" and line.get("path") == "/no-such-page"
    ]
    assert len(access) == 1
    assert access[0]["method"] == "GET" and access[0]["status"] == 404 and access[0]["query"] == "q=1"
    assert access[0]["user_agent"] == "probe/1" and access[0]["duration_ms"] >= 0
    app = [line for line in lines if line["logger"] == "django.request"]
    assert [(line["level"], line["path"], line["status"]) for line in app] == [
        ("WARNING", "/no-such-page", 404)
    ]
    assert any(line["logger"] == "gunicorn.error" and "Listening at" in line["message"] for line in lines)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_one_time_link_tokens_and_token_parameters_stay_out_of_the_log(tmp_path, migrated, log_format):
    """A sign-in link's page only shows a button; the POST uses the link. Its token read off the
    log (the request line, the path, a Referer, the app's CSRF warning) would sign its owner in."""
    import subprocess

    from orgwarden.testing.serve import clean_env

    with serving(tmp_path, migrated=migrated, ORGWARDEN_LOG_FORMAT=log_format) as (base, log):
        made = subprocess.run(
            [sys.executable, "-m", "orgwarden.cli", "bootstrap", "--email", "it@acme.test", "--org", "Acme"],
            env=clean_env(tmp_path, ORGWARDEN_BASE_URL=base),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        link = re.search(rf"{re.escape(base)}(/login/link/(\S+))", made.stdout)
        path, token = link[1], link[2]
        hint = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpdEBhY21lLnRlc3QifQ.c2lnbmF0dXJlc2lnbmF0dXJl"

        page = httpx.get(base + path)
        assert page.status_code == 200 and page.headers["Referrer-Policy"] == "strict-origin"
        assert httpx.get(f"{base}/login").headers["Referrer-Policy"] == "same-origin"
        # a browser that ignores the policy, and a POST without its CSRF cookie (django.security.csrf)
        assert httpx.get(f"{base}/static/orgwarden/app.css", headers={"Referer": base + path}).is_success
        assert httpx.post(base + path).status_code == 403
        httpx.get(f"{base}/oauth2/logout/", params={"id_token_hint": hint, "state": "kept-1"})
    text = log.read_text()  # once stopped: an access line is written after its answer is sent
    assert token not in text and hint not in text
    assert f"/login/link/{logs.REDACTED}" in text and f"id_token_hint={logs.REDACTED}" in text
    assert "state=kept-1" in text  # what is not secret is still there
    if log_format == "json":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        access = [line for line in lines if line["logger"] == "gunicorn.access"]
        assert {line.get("referer") for line in access} >= {f"{base}/login/link/{logs.REDACTED}"}
        csrf = [line for line in lines if line["logger"] == "django.security.csrf"]
        assert csrf and all(line["path"] == f"/login/link/{logs.REDACTED}" for line in csrf)
    else:
        assert f'"GET /login/link/{logs.REDACTED} HTTP/1.1" 200' in text
        assert re.search(
            rf"django\.security\.csrf: Forbidden .*: /login/link/{re.escape(logs.REDACTED)}", text
        )


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("/login/link/abc", f"/login/link/{logs.REDACTED}"),
        ("/helpcenter/site-1/reset/abc", f"/helpcenter/site-1/reset/{logs.REDACTED}"),
        ("/password-reset/acc-1/tok-2", f"/password-reset/acc-1/{logs.REDACTED}"),
        ("/login/link/", "/login/link/"),  # no token, nothing to hide
        ("/login/link/abc/more", "/login/link/abc/more"),  # not the route: a 404, not a token
        (
            "/oauth2/logout/?id_token_hint=x.y.z&state=s",
            f"/oauth2/logout/?id_token_hint={logs.REDACTED}&state=s",
        ),
        ("/x?code=1&token=&a=b", f"/x?code={logs.REDACTED}&token=&a=b"),
        ("/x?id%5Ftoken%5Fhint=z", f"/x?id%5Ftoken%5Fhint={logs.REDACTED}"),  # an escaped name
        ("https://h.test/login/link/abc?x=1#f", f"https://h.test/login/link/{logs.REDACTED}?x=1#f"),
        ("/users/?q=pat", "/users/?q=pat"),
        # a one-time link as the page to come back to (an invitation's "Sign in", "Create an account")
        (
            "/signup?next=/admin/invitations/abc&email=b%40acme.test",
            f"/signup?next=/admin/invitations/{logs.REDACTED}&email=b%40acme.test",
        ),
        ("/login?next=%2Fadmin%2Finvitations%2Fabc", f"/login?next=/admin/invitations/{logs.REDACTED}"),
        (
            "https://h.test/login?next=/admin/invitations/abc",
            f"https://h.test/login?next=/admin/invitations/{logs.REDACTED}",
        ),
        ("/login?next=/admin/o/org-1/users/", "/login?next=/admin/o/org-1/users/"),
        ("-", "-"),
    ],
)
def test_redact_url(url, safe):
    assert logs.redact_url(url) == safe


def test_access_lines_say_how_long_and_behind_a_proxy_for_whom(tmp_path, migrated):
    """One line per request, with the time it took (the docstring said so; the line did not) and,
    behind a proxy, the client's address rather than the proxy's: the one the audit log records."""
    with serving(tmp_path, migrated=migrated, ORGWARDEN_BEHIND_PROXY="true") as (base, log):
        httpx.get(
            f"{base}/healthz", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9", "User-Agent": "lb/1"}
        )
        httpx.get(f"{base}/readyz", headers={"User-Agent": "lb/2"})
    lines = [line for line in log.read_text().splitlines() if '"lb/' in line]
    assert len(lines) == 2, log.read_text()
    forwarded, direct = sorted(lines, key=lambda line: "lb/2" in line)
    assert forwarded.startswith("203.0.113.9 - - [") and '"GET /healthz HTTP/1.1" 200 2' in forwarded
    assert direct.startswith("127.0.0.1 - - [")
    assert all(re.search(r'"lb/\d" \d+ms$', line) for line in lines), lines
