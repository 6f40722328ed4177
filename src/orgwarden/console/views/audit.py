"""Security → Audit log: the filtered, keyset-paged log with a detail panel, and its CSV export.

The filters travel as GET parameters and are validated by ``EventFilterForm``; a bad value is a
form error and a 400, never a 500. Paging carries the id of the last (``before``) or first
(``after``) event of the page shown, so every page costs the same. The export streams the same
filtered events in keyset chunks and is itself recorded in the audit log before the first byte.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, timedelta

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from orgwarden.audit import catalogue, ids
from orgwarden.audit import selectors as audit_selectors
from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor, audit_export_record
from orgwarden.console.views.base import org_admin_view
from orgwarden.orgs import selectors as org_selectors

Q_MAX = 200
# Cells a spreadsheet would read as a formula (or that hide one behind a control character).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = (
    "id",
    "time",
    "action",
    "action name",
    "category",
    "actor type",
    "actor id",
    "actor name",
    "actor email",
    "targets",
    "ip",
    "user agent",
    "details",
)
FILTER_FIELDS = ("date_from", "date_to", "category", "action", "actor", "q")


def _action_choices() -> list[tuple[str, object]]:
    grouped: list[tuple[str, object]] = [("", "All actions")]
    for category in catalogue.CATEGORIES:
        grouped.append((category, [(a.key, a.name) for a in catalogue.actions_in(category)]))
    return grouped


class EventFilterForm(forms.Form):
    """The audit log's GET parameters. Every field is optional; ``before``/``after`` are cursors."""

    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC"
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC"
    )
    category = forms.ChoiceField(
        required=False, choices=[("", "All categories")] + [(c, c) for c in catalogue.CATEGORIES]
    )
    action = forms.ChoiceField(required=False, choices=_action_choices)
    actor = forms.CharField(
        label="Actor",
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": "Email or account id"}),
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=Q_MAX,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Names and emails"}),
    )
    before = forms.CharField(required=False, widget=forms.HiddenInput)
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def _clean_cursor(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if value and not ids.is_ulid(value):
            raise forms.ValidationError("That page link is not valid. Start again from the newest events.")
        return value

    def clean_before(self) -> str:
        return self._clean_cursor("before")

    def clean_after(self) -> str:
        return self._clean_cursor("after")

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        category, action = data.get("category"), data.get("action")
        if category and action and catalogue.action_for(action).category != category:
            self.add_error("action", f"“{catalogue.action_for(action).name}” is not in {category}.")
        if data.get("before") and data.get("after"):
            self.add_error(None, "A page link cannot go both ways. Start again from the newest events.")
        return data

    def filters(self) -> audit_selectors.EventFilters:
        data = self.cleaned_data
        return audit_selectors.EventFilters(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            category=data.get("category", ""),
            action=data.get("action", ""),
            actor=data.get("actor", ""),
            q=data.get("q", ""),
        )


def _filter_query(request: HttpRequest, **extra: str) -> str:
    """The request's filter parameters (no cursor, no selected event) plus ``extra``, URL-encoded."""
    query = QueryDict(mutable=True)
    for name in FILTER_FIELDS:
        value = request.GET.get(name, "")
        if value:
            query[name] = value
    query.update({key: value for key, value in extra.items() if value})
    return query.urlencode()


def _people_ids(request: HttpRequest):
    # For now an org's people are its admins; managed accounts join them with the Directory work.
    return org_selectors.audit_people_ids(org=request.org)


def _event_json(event: AuditEvent) -> str:
    return json.dumps(audit_selectors.event_as_dict(event), indent=2, ensure_ascii=False)


def _retention() -> dict[str, object]:
    """How long this installation keeps audit events (``ORGWARDEN_AUDIT_RETENTION_DAYS``, set by its
    operator), so an admin knows how far back the log goes before needing it: ``retention_days``
    (None: kept indefinitely) and ``retained_since``, the oldest day the log still holds."""
    days = settings.AUDIT_RETENTION_DAYS
    if days is None:
        return {"retention_days": None, "retained_since": None}
    return {"retention_days": days, "retained_since": timezone.now() - timedelta(days=days)}


@org_admin_view
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = EventFilterForm(request.GET)
    context: dict[str, object] = {"form": form, "nav_active": "audit-log", **_retention()}
    if not form.is_valid():
        return render(request, "console/audit_log.html", context, status=400)

    people_ids = _people_ids(request)
    selected = None
    event_id = request.GET.get("event", "")
    if event_id:
        if not ids.is_ulid(event_id):
            raise Http404("No such event")
        try:
            selected = audit_selectors.event_for_org(
                org_id=org.org_id, people_ids=people_ids, event_id=event_id
            )
        except AuditEvent.DoesNotExist as exc:
            raise Http404("No such event") from exc

    page = audit_selectors.events_page(
        org_id=org.org_id,
        people_ids=people_ids,
        filters=form.filters(),
        before=form.cleaned_data["before"] or None,
        after=form.cleaned_data["after"] or None,
    )
    cursor = {"before": form.cleaned_data["before"], "after": form.cleaned_data["after"]}
    filters_query = _filter_query(request)
    page_query = _filter_query(request, **cursor)
    context.update(
        {
            "page": page,
            "selected": selected,
            "selected_json": _event_json(selected) if selected else "",
            "filtered": bool(filters_query),
            "row_link_prefix": "?" + (page_query + "&" if page_query else ""),
            "close_link": "?" + page_query,
            "newer_link": "?" + _filter_query(request, after=page.newer_cursor) if page.newer_cursor else "",
            "older_link": "?" + _filter_query(request, before=page.older_cursor) if page.older_cursor else "",
            "export_link": reverse("console:audit_export", args=[org.org_id])
            + ("?" + filters_query if filters_query else ""),
        }
    )
    return render(request, "console/audit_log.html", context)


def csv_safe(value: object) -> str:
    """The cell as text, with a leading quote if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_row(event: AuditEvent) -> list[str]:
    cells = (
        event.id,
        event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        event.action,
        event.display_name,
        event.category,
        event.actor_type,
        event.actor_id,
        event.actor_name,
        event.actor_email,
        json.dumps(event.targets, ensure_ascii=False),
        event.ip,
        event.user_agent,
        json.dumps(event.details, ensure_ascii=False, sort_keys=True),
    )
    return [csv_safe(cell) for cell in cells]


class _Echo:
    """A file-like object whose ``write`` hands the line back, so ``csv.writer`` can stream."""

    def write(self, value: str) -> str:
        return value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events:
        yield writer.writerow(csv_row(event))


@org_admin_view
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = EventFilterForm(request.GET)
    if not form.is_valid():
        context = {"form": form, "nav_active": "audit-log"}
        return render(request, "console/audit_log.html", context, status=400)
    filters = form.filters()
    audit_export_record(org_id=org.org_id, actor=Actor.account(request.user), filters=filters.as_dict())
    events = audit_selectors.events_for_export(
        org_id=org.org_id, people_ids=_people_ids(request), filters=filters
    )
    response = StreamingHttpResponse(csv_lines(events), content_type="text/csv; charset=utf-8")
    filename = f"audit-log-{org.org_id}-{timezone.now():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
