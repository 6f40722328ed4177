"""The operator's support queue, for installation staff (``Account.is_staff``) only: anyone else gets
a 404, as for an unknown page. Requests of every org, by response deadline, 50 a page.

A request's page also shows its org's security subscription, with the operator's payment step:
"Mark paid" (an org asking to pay, or paying after a lapse) and "Lapse" (``billing.services``), the
same services as ``orgwarden billing mark-paid|lapse``."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.billing import selectors as billing_selectors
from orgwarden.billing import services as billing_services
from orgwarden.billing.exceptions import BillingError
from orgwarden.support import selectors, services
from orgwarden.support.exceptions import InvalidPageLink, NotFound, SupportError
from orgwarden.support.models import SupportRequest


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not selectors.is_staff(request.user):
            raise Http404()
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply", max_length=services.MAX_BODY, widget=forms.Textarea(attrs={"rows": 5})
    )


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(label="Severity", choices=SupportRequest.Severity.choices)


class NoteForm(forms.Form):
    """The payment reference of "Mark paid" / "Lapse"; it goes into the audit event's details."""

    note = forms.CharField(label="Payment reference", max_length=200, required=False)


@staff_view
def queue(request: HttpRequest) -> HttpResponse:
    """The queue, 50 a page by deadline; ``resolved=1`` includes resolved requests, on every page."""
    now = timezone.now()
    include_resolved = request.GET.get("resolved") == "1"
    after = request.GET.get("after", "")
    try:
        page = selectors.queue_page(include_resolved=include_resolved, after=after or None)
    except InvalidPageLink as exc:
        page, page_error = None, exc.message
    else:
        page_error = ""
    context = {
        "rows": [(item, selectors.deadline_state(item, now=now)) for item in page.items] if page else [],
        "page": page,
        "after": after,
        "page_error": page_error,
        "now": now,
        "include_resolved": include_resolved,
    }
    return render(request, "support/queue.html", context, status=400 if page_error else 200)


@staff_view
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, request_id: str) -> HttpResponse:
    try:
        ticket = selectors.request_for_staff(request_id=request_id)
    except NotFound as exc:
        raise Http404() from exc
    form = ReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.support_request_reply(
                actor=request.user, request_id=request_id, body=form.cleaned_data["body"]
            )
        except SupportError as exc:
            form.add_error("body", exc.message)
        else:
            messages.success(request, "Reply sent.")
            return redirect("support:detail", request_id)
    return render(
        request,
        "support/detail.html",
        {
            "ticket": ticket,
            "conversation": ticket.messages.select_related("author"),
            "state": selectors.deadline_state(ticket, now=timezone.now()),
            "form": form,
            "severity_form": SeverityForm(initial={"severity": ticket.severity}),
            "subscription": billing_selectors.subscription_of(org=ticket.org),
        },
        status=400 if form.errors else 200,
    )


@staff_view
@require_POST
def severity(request: HttpRequest, request_id: str) -> HttpResponse:
    form = SeverityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a severity from L1 to L4.")
        return redirect("support:detail", request_id)
    try:
        services.support_request_severity_change(
            actor=request.user, request_id=request_id, severity=form.cleaned_data["severity"]
        )
    except NotFound as exc:
        raise Http404() from exc
    except SupportError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Severity changed; the response deadline was recomputed.")
    return redirect("support:detail", request_id)


@staff_view
@require_POST
def resolve(request: HttpRequest, request_id: str) -> HttpResponse:
    try:
        services.support_request_resolve(actor=request.user, request_id=request_id)
    except NotFound as exc:
        raise Http404() from exc
    except SupportError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Request resolved.")
    return redirect("support:queue")


def _subscription_change(request: HttpRequest, request_id: str, change: Callable, done: str) -> HttpResponse:
    try:
        ticket = selectors.request_for_staff(request_id=request_id)
    except NotFound as exc:
        raise Http404() from exc
    form = NoteForm(request.POST)
    if not form.is_valid():  # a NUL would reach the audit event's JSON (PostgreSQL refuses it: a 500)
        messages.error(request, "Write the payment reference as text of up to 200 characters.")
        return redirect("support:detail", request_id)
    try:
        change(org=ticket.org, operator=request.user, note=form.cleaned_data["note"])
    except BillingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(org=ticket.org.name))
    return redirect("support:detail", request_id)


@staff_view
@require_POST
def subscription_paid(request: HttpRequest, request_id: str) -> HttpResponse:
    return _subscription_change(
        request, request_id, billing_services.subscription_mark_paid, "{org}'s subscription is paid."
    )


@staff_view
@require_POST
def subscription_lapse(request: HttpRequest, request_id: str) -> HttpResponse:
    return _subscription_change(
        request, request_id, billing_services.subscription_lapse, "{org}'s subscription has lapsed."
    )
