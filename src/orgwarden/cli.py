"""The ``orgwarden`` command: ``orgwarden serve`` and every ``manage.py`` command.

``orgwarden serve`` applies migrations, creates the cache table, prints the URL (and, while the
installation has no organization yet, a one-time link to set up the first one), then serves the
app with gunicorn; WhiteNoise serves the static files from inside the package.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orgwarden.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
