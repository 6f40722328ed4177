"""One confirmation page for the console's actions that break something live or cannot be undone.

The first click on such an action is a link (or, for a list's checked rows, a form posted without
``confirm``) that shows this page: what will happen, in words an admin can check, and one button
that does it; Cancel goes back. Each view words its own ``Confirm``; the page's layout is
``console/confirm.html``, one for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED = "confirm"  # the field a bulk form's confirmation posts back, set to "1"


@dataclass(frozen=True, slots=True)
class Confirm:
    """What a confirmation page says and sends.

    ``title`` is the question (the page's heading), ``lines`` say what will happen, one paragraph
    each, ``button`` does it. ``action`` is where the button posts ("" is the page's own URL) and
    ``fields`` the hidden ``(name, value)`` pairs it sends along. ``back_url`` and ``back_label``
    name the page the admin came from: the back link and Cancel go there.
    """

    title: str
    lines: Sequence[str]
    button: str
    back_url: str
    back_label: str
    subtitle: str = ""
    action: str = ""
    fields: Sequence[tuple[str, str]] = ()


def confirm_page(
    request: HttpRequest, confirm: Confirm, *, nav_active: str, status: int = 200
) -> HttpResponse:
    """Render ``confirm``; nothing has changed yet."""
    context = {"confirm": confirm, "nav_active": nav_active}
    return render(request, "console/confirm.html", context, status=status)


def confirmed(request: HttpRequest) -> bool:
    """A bulk form's POST came from its confirmation page's button (not from the list itself)."""
    return request.method == "POST" and request.POST.get(CONFIRMED) == "1"
