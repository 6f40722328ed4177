"""Support → Support requests: an org admin raises a request, follows its conversation and deadline.

The org's requests are listed newest first, 50 a page (``selectors.requests_page``)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from orgwarden.console.views.base import org_admin_view
from orgwarden.support import selectors, services, sla
from orgwarden.support.exceptions import InvalidPageLink, NotFound, SupportError
from orgwarden.support.models import SupportRequest


class RaiseForm(forms.Form):
    severity = forms.ChoiceField(label="Severity", choices=SupportRequest.Severity.choices, initial="L3")
    summary = forms.CharField(label="Summary", max_length=services.MAX_SUMMARY)
    description = forms.CharField(
        label="Description",
        max_length=services.MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What happens, since when, who is affected, and what you tried.",
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Add to the conversation",
        max_length=services.MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


@org_admin_view
@require_http_methods(["GET", "POST"])
def support_requests(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = RaiseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            raised = services.support_request_raise(org=org, actor=request.user, **form.cleaned_data)
        except SupportError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Request raised. Support will answer by the deadline shown.")
            return redirect("console:support_request", org.org_id, raised.request_id)
    after = request.GET.get("after", "")
    try:
        page, page_error = selectors.requests_page(org=org, after=after or None), ""
    except InvalidPageLink as exc:
        page, page_error = None, exc.message
    return render(
        request,
        "console/support/list.html",
        {
            "form": form,
            "page": page,
            "after": after,
            "page_error": page_error,
            "levels": sla.LEVELS.values(),
            "support_time_zone": settings.SUPPORT_TIME_ZONE,
            "nav_active": "support",
        },
        status=400 if form.errors or page_error else 200,
    )


@org_admin_view
@require_http_methods(["GET", "POST"])
def support_request(request: HttpRequest, request_id: str) -> HttpResponse:
    try:
        ticket = selectors.request_of(org=request.org, request_id=request_id)
    except NotFound as exc:
        raise Http404() from exc
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.support_request_comment(
                org=request.org, actor=request.user, request_id=request_id, body=form.cleaned_data["body"]
            )
        except NotFound as exc:
            raise Http404() from exc
        except SupportError as exc:
            form.add_error("body", exc.message)
        else:
            return redirect("console:support_request", request.org.org_id, request_id)
    return render(
        request,
        "console/support/detail.html",
        {
            "ticket": ticket,
            "conversation": ticket.messages.select_related("author"),
            "state": selectors.deadline_state(ticket, now=timezone.now()),
            "form": form,
            "nav_active": "support",
        },
        status=400 if form.errors else 200,
    )
