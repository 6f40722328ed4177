"""The log: lines for people, or one JSON object per line for a log pipeline (``ORGWARDEN_LOG_FORMAT``).

``text`` (the default): ``2026-11-28T03:45:12.345Z WARNING [4242] django.request: Not Found: /x`` —
UTC time, level, process, logger, message (and the traceback, if any). gunicorn's own lines keep
their formats (the access log, one line per request, is the combined log format then the time the
request took, ``… "curl/8.0" 12ms``; its first field is the client's address, which behind
``ORGWARDEN_BEHIND_PROXY`` is the ``X-Forwarded-For`` entry the proxy wrote, as in the audit log).

``json``: every line — the app's, gunicorn's error log and its access log — is one object with
``time`` (UTC, ISO 8601), ``level``, ``logger``, ``process`` and ``message``; a traceback is in
``exc_info``. Access lines also carry ``remote``, ``method``, ``path``, ``query``, ``status``,
``bytes``, ``duration_ms``, ``user_agent`` and ``referer``; the app's lines about a request (a 4xx
or 5xx answer) carry ``method``, ``path`` and ``status``. The startup announcements (the URL, the
one-time setup link) are log lines too, so nothing on the output is not JSON.

In both, the secret part of a URL is written as ``[redacted]``: a one-time link's token (a sign-in,
email-confirmation, password-reset, setup or invitation link: a path parameter named in
``SECRET_PATH_PARAMETERS``) and the values of ``SECRET_QUERY_PARAMETERS``, in the request line, the
path, the query and the Referer of access lines and in the app's lines about a request. Such a
link's page only shows a button (mail scanners open links) and the POST uses it, so a token read
off a log line could otherwise sign someone in. Pages under such a URL are sent with
``Referrer-Policy: strict-origin`` (``console.middleware``), so their styles and scripts do not
carry it either. A reverse proxy in front of orgwarden logs the same URLs: see the README.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from pythonjsonlogger.json import JsonFormatter

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
# gunicorn's access atoms (its ``access_log_format`` letters) → the JSON fields they become
ACCESS_FIELDS = {
    "h": "remote",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "a": "user_agent",
    "f": "referer",
}
# LogRecord attributes that are not the caller's ``extra``: never copied into the JSON object
# (``request`` is Django's HttpRequest, given to django.request's records; read, not dumped).
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request",
    "status_code",
    "taskName",
}


SECRET_PATH_PARAMETERS = frozenset({"token"})
SECRET_QUERY_PARAMETERS = frozenset(
    {"token", "access_token", "refresh_token", "id_token_hint", "code", "client_secret", "password"}
)
REDACTED = "[redacted]"
_QUERY_PAIR = re.compile(r"(?P<name>[^&;=]*)=(?P<value>[^&;]*)")


@cache
def _secret_routes() -> tuple[re.Pattern[str], ...]:
    """The URLconf's routes with a ``SECRET_PATH_PARAMETERS`` parameter, each as one regex of the
    whole path (the includes' prefixes joined to the route, as Django's resolver matches them)."""
    from django.urls import URLResolver, get_resolver

    found = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for entry in resolver.url_patterns:
            regex = entry.pattern.regex
            if isinstance(entry, URLResolver):
                walk(entry, prefix + regex.pattern.removeprefix("^"))
            elif not SECRET_PATH_PARAMETERS.isdisjoint(regex.groupindex):
                found.append(re.compile(prefix + regex.pattern.removeprefix("^")))

    root = get_resolver()
    walk(root, "^" + root.pattern.regex.pattern.removeprefix("^"))
    return tuple(found)


@cache
def _any_secret_route() -> re.Pattern[str]:
    """One regex matching a path that any of ``_secret_routes`` matches: the one test every access
    line pays (a named group may appear once in a regex, so the alternatives' groups are unnamed)."""
    unnamed = [re.sub(r"\(\?P<\w+>", "(?:", route.pattern) for route in _secret_routes()]
    return re.compile("|".join(f"(?:{pattern})" for pattern in unnamed) or r"(?!)")


def redact_path(path: str) -> str:
    """``path`` with the value of each secret path parameter replaced by ``[redacted]``."""
    if _any_secret_route().match(path) is None:
        return path
    for route in _secret_routes():
        match = route.match(path)
        if match is None:
            continue
        spans = sorted(match.span(name) for name in SECRET_PATH_PARAMETERS & route.groupindex.keys())
        for start, end in reversed(spans):
            path = path[:start] + REDACTED + path[end:]
        return path
    return path


def redact_query(query: str) -> str:
    """``query`` with the value of each ``SECRET_QUERY_PARAMETERS`` parameter replaced by ``[redacted]``."""
    if "=" not in query:
        return query

    def pair(match: re.Match[str]) -> str:
        if unquote_plus(match["name"]) in SECRET_QUERY_PARAMETERS and match["value"]:
            return f"{match['name']}={REDACTED}"
        if "/" in match["value"] or "%2f" in match["value"].lower():
            # a link as a value: ``/signup?next=/admin/invitations/<token>`` carries the invitation
            value = unquote_plus(match["value"])
            safe = redact_url(value)
            if safe != value:
                return f"{match['name']}={safe}"
        return match[0]

    return _QUERY_PAIR.sub(pair, query)


def redact_url(url: str) -> str:
    """A request target (``/path?query``) or an absolute URL (a Referer), secrets redacted."""
    if not url or url == "-":
        return url
    if url[:1] == "/" and url[:2] != "//" and "?" not in url:  # a target without a query: its path
        return redact_path(url)
    parts = urlsplit(url)
    path, query = redact_path(parts.path), redact_query(parts.query)
    if (path, query) == (parts.path, parts.query):
        return url
    return urlunsplit(parts._replace(path=path, query=query))


def redact_access_atoms(atoms: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's access atoms (``glogging.Logger.atoms``) with the URLs' secrets redacted: the
    request line, path, query, Referer, and the same values among its header and environ atoms.

    Every request's line comes through here: a target with no secret (nearly all: SCIM, the API,
    introspection) costs one regex match and one look at its query before only the Referer is
    looked at."""
    target = atoms.get("{raw_uri}e")
    if isinstance(target, str) and redact_url(target) == target:
        for key in ("f", "{referer}i", "{http_referer}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact_url(atoms[key])
        return atoms
    for key in ("U", "{path_info}e"):
        if isinstance(atoms.get(key), str):
            atoms[key] = redact_path(atoms[key])
    for key in ("q", "{query_string}e"):
        if isinstance(atoms.get(key), str):
            atoms[key] = redact_query(atoms[key])
    for key in ("f", "{referer}i", "{http_referer}e", "{raw_uri}e"):
        if isinstance(atoms.get(key), str):
            atoms[key] = redact_url(atoms[key])
    request_line = atoms.get("r")
    if isinstance(request_line, str) and request_line.count(" ") == 2:
        method, target, protocol = request_line.split(" ")
        atoms["r"] = f"{method} {redact_url(target)} {protocol}"
    return atoms


class RedactRequestSecrets(logging.Filter):
    """For the app's lines about a request (``django.request``, ``django.security.*``: they carry
    ``request`` and put its path in the message): the path's and query's secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if isinstance(path, str):
            safe = redact_path(path)
            if safe != path and isinstance(record.args, tuple):
                record.args = tuple(
                    arg.replace(path, safe) if isinstance(arg, str) else arg for arg in record.args
                )
            if safe != path and isinstance(record.msg, str):
                record.msg = record.msg.replace(path, safe)
        return True


class TextFormatter(logging.Formatter):
    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self) -> None:
        super().__init__(TEXT)


class JsonLineFormatter(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(reserved_attrs=sorted(_RECORD_ATTRIBUTES))

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["process"] = record.process
        super().add_fields(log_data, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            for atom, field in ACCESS_FIELDS.items():
                if atoms.get(atom) not in (None, "-", ""):
                    log_data[field] = atoms[atom]
            if "s" in atoms and str(atoms["s"]).isdigit():
                log_data["status"] = int(atoms["s"])
            if str(atoms.get("D", "")).isdigit():  # microseconds
                log_data["duration_ms"] = round(int(atoms["D"]) / 1000, 3)
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            log_data["method"] = request.method
            log_data["path"] = redact_path(request.path)
        if isinstance(getattr(record, "status_code", None), int):
            log_data["status"] = record.status_code


def formatter(name: str) -> logging.Formatter:
    return JsonLineFormatter() if name == "json" else TextFormatter()


def logging_config(format_name: str, level: str) -> dict:
    """Django's ``LOGGING``: one handler on stderr, in ``format_name``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": formatter, "name": format_name}},
        "filters": {"secrets": {"()": RedactRequestSecrets}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["secrets"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }


def announcement(format_name: str, message: str) -> str:
    """A line for the operator whatever the log level (the URL, the setup link), in the log's format."""
    if format_name != "json":
        return message
    return JsonLineFormatter().format(
        logging.LogRecord("orgwarden", logging.INFO, __file__, 0, message, None, None)
    )
