"""The log: lines for people, or one JSON object per line for a log pipeline (``ORGWARDEN_LOG_FORMAT``).

``text`` (the default): ``2026-11-28T03:45:12.345Z WARNING [4242] django.request: Not Found: /x`` —
UTC time, level, process, logger, message (and the traceback, if any). gunicorn's own lines keep
their formats (the access log is the common log format with the time each request took).

``json``: every line — the app's, gunicorn's error log and its access log — is one object with
``time`` (UTC, ISO 8601), ``level``, ``logger``, ``process`` and ``message``; a traceback is in
``exc_info``. Access lines also carry ``remote``, ``method``, ``path``, ``query``, ``status``,
``bytes``, ``duration_ms``, ``user_agent`` and ``referer``; the app's lines about a request (a 4xx
or 5xx answer) carry ``method``, ``path`` and ``status``. The startup announcements (the URL, the
one-time setup link) are log lines too, so nothing on the output is not JSON.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

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
            log_data["path"] = request.path
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
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
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
