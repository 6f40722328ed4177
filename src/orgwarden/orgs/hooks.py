"""Extension points of the orgs domain for the apps above it (registered in ``AppConfig.ready()``).

Called inside the transaction of the change, so what a hook writes commits with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orgwarden.orgs.models import Directory

# Called with every new directory (each gets its default authentication policy this way).
directory_created: list[Callable[[Directory], None]] = []


def run_directory_created(directory: Directory) -> None:
    for hook in directory_created:
        hook(directory)
