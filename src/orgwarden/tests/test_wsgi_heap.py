"""``orgwarden.wsgi.get_application`` leaves what it loaded out of the garbage collector's walks."""

from __future__ import annotations

import gc

from orgwarden.wsgi import get_application


def test_the_application_freezes_what_it_loaded_at_start():
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        get_application()
        assert gc.get_freeze_count() > 10_000  # Django and the apps, skipped by every collection
    finally:
        gc.unfreeze()
