"""The customer portal at ``/helpcenter/<site_id>/`` and its SAML service provider. Thin: forms →
services; the shared ``ResponseProcessor`` decides about SAML responses.

- ``portal``: who is signed in, "raise a request", "my requests". Anonymous visitors of an SSO-only
  help center go straight to the IdP (no sign-up); with both methods on they get the sign-in page,
  single sign-on first.
- ``login``/``signup``/``logout``/``reset``/``reset_confirm``: password customers.
- ``saml_login`` (SP-initiated), ``saml_acs`` (the IdP's POST; csrf-exempt), ``saml_metadata``.
  A test started from the console shows its outcome and signs nobody in.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgwarden.accounts import throttle
from orgwarden.accounts.models import normalize_email
from orgwarden.accounts.throttle import Throttle
from orgwarden.audit.middleware import client_ip
from orgwarden.helpcenter import selectors, services
from orgwarden.helpcenter.exceptions import CustomerSigninRefused
from orgwarden.helpcenter.forms import ResetForm, ResetRequestForm, SignInForm, SignUpForm
from orgwarden.helpcenter.models import HelpCenter, HelpCenterSamlRequest
from orgwarden.helpcenter.session import customer_current, customer_login, customer_logout
from orgwarden.helpcenter.store import HelpCenterStateStore
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.sso.processors.errors import SamlError
from orgwarden.sso.processors.metadata import sp_metadata_xml
from orgwarden.sso.processors.response import ResponseProcessor, SamlResult
from orgwarden.sso.views import local_path

# Customers' failed passwords, per help center × email and per client address (same limit as
# accounts: ORGWARDEN_SIGNIN_THROTTLE_PER_MINUTE).
CUSTOMER_SIGNIN = Throttle("helpcenter-signin", 60, limit_setting="SIGNIN_THROTTLE_PER_MINUTE")


def _help_center(site_id: str) -> HelpCenter:
    try:
        return selectors.help_center_public(site_id=site_id)
    except NotFound as exc:
        raise Http404() from exc


def _home(help_center: HelpCenter) -> str:
    return reverse("helpcenter:portal", args=[help_center.site.site_id])


def _next(help_center: HelpCenter, value: str) -> str:
    """``value`` if it is a path inside this help center, else the portal's home.

    A dot segment (``/helpcenter/<site>/../../admin/``, also percent-encoded: browsers resolve
    ``%2e%2e`` as ``..``) would lead out of it after the prefix check, so it is refused."""
    path = local_path(value)
    segments = unquote(urlsplit(path).path).split("/")
    if not path.startswith(_home(help_center)) or any(s in (".", "..") for s in segments):
        return _home(help_center)
    return path


def _context(help_center: HelpCenter, **extra) -> dict:
    return {"help_center": help_center, "site": help_center.site, **extra}


@never_cache  # the customer's name and email: not kept for the back button after sign-out
@require_GET
def portal(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    customer = customer_current(request, help_center)
    if customer is None:
        if help_center.sso_enabled and not help_center.password_enabled:
            return redirect(reverse("helpcenter:saml_login", args=[site_id]) + "?next=" + _home(help_center))
        return redirect("helpcenter:login", site_id=site_id)
    return render(request, "helpcenter/portal.html", _context(help_center, customer=customer))


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    next_url = _next(help_center, request.POST.get("next") or request.GET.get("next", ""))
    if customer_current(request, help_center) is not None:
        return HttpResponseRedirect(next_url)
    if not help_center.password_enabled:
        return redirect(reverse("helpcenter:saml_login", args=[site_id]) + "?next=" + next_url)
    form = SignInForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email, ip = normalize_email(form.cleaned_data["email"]), client_ip(request)
        key = f"{site_id}:{email}"
        wait = CUSTOMER_SIGNIN.retry_after(email=key, ip=ip)
        if wait:
            services.customer_signin_failure_record(
                help_center=help_center, reason="too_many_attempts", email=email
            )
            form.add_error(None, f"Too many attempts. Wait {wait} seconds, then try again.")
            status = 429
        else:
            try:
                customer = services.customer_password_signin(help_center=help_center, **form.cleaned_data)
            except CustomerSigninRefused as exc:
                CUSTOMER_SIGNIN.record_failure(email=key, ip=ip)
                services.customer_signin_failure_record(
                    help_center=help_center, reason=exc.reason, email=email
                )
                form.add_error(None, exc.message)
                status = 400
            else:
                CUSTOMER_SIGNIN.clear_account(email=key)
                customer_login(request, help_center, customer)
                return HttpResponseRedirect(next_url)
    if form.errors and status == 200:
        status = 400
    context = _context(help_center, form=form, next=next_url)
    return render(request, "helpcenter/login.html", context, status=status)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    if not help_center.password_enabled:
        return redirect("helpcenter:portal", site_id=site_id)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    wait = 0
    if request.method == "POST" and form.is_valid():
        # Each attempt counts, before anything is looked up (``throttle.requests_admit``): the
        # refusal says nothing about whether the email has a customer account here.
        email = normalize_email(form.cleaned_data["email"])
        wait = throttle.SIGNUPS.admit(form, email_key=f"helpcenter:{site_id}:{email}", ip=client_ip(request))
        if not wait:
            try:
                customer = services.customer_sign_up(help_center=help_center, **form.cleaned_data)
            except OrgsError as exc:
                form.add_error(None, exc.message)
            else:
                customer_login(request, help_center, customer)
                return redirect("helpcenter:portal", site_id=site_id)
    response = render(
        request,
        "helpcenter/signup.html",
        _context(help_center, form=form),
        status=429 if wait else 400 if form.errors else 200,
    )
    if wait:
        response["Retry-After"] = str(wait)
    return response


@require_POST
def logout(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    customer_logout(request, help_center)
    return render(request, "helpcenter/signed_out.html", _context(help_center))


@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    if not help_center.password_enabled:
        return redirect("helpcenter:portal", site_id=site_id)
    form = ResetRequestForm(request.POST if request.method == "POST" else None)
    sent, wait = False, 0
    if request.method == "POST" and form.is_valid():
        email = normalize_email(form.cleaned_data["email"])
        # Each request counts, the customer exists or not (``throttle.requests_admit``); a help
        # center's customers are its own: the key holds its site id.
        wait = throttle.RESETS.admit(form, email_key=f"helpcenter:{site_id}:{email}", ip=client_ip(request))
        if not wait:
            services.customer_password_reset_request(help_center=help_center, email=email)
            sent = True
    context = _context(help_center, form=form, sent=sent)
    response = render(
        request, "helpcenter/reset.html", context, status=429 if wait else 400 if form.errors else 200
    )
    if wait:
        response["Retry-After"] = str(wait)
    return response


@require_http_methods(["GET", "POST"])
def reset_confirm(request: HttpRequest, site_id: str, token: str) -> HttpResponse:
    help_center = _help_center(site_id)
    form = ResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_password_reset(
                help_center=help_center, token=token[:100], password=form.cleaned_data["password"]
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            customer_login(request, help_center, customer)
            return redirect("helpcenter:portal", site_id=site_id)
    context = _context(help_center, form=form)
    return render(request, "helpcenter/reset_confirm.html", context, status=400 if form.errors else 200)


# --- SAML ------------------------------------------------------------------------------------------------


@require_GET
def saml_metadata(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    xml = sp_metadata_xml(
        sp_entity_id=selectors.sp_entity_id(help_center), acs_url=selectors.acs_url(help_center)
    )
    response = HttpResponse(xml, content_type="application/samlmetadata+xml")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="orgwarden-helpcenter-{site_id}.xml"'
    return response


@require_GET
def saml_login(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    if not help_center.sso_enabled or not help_center.is_configured:
        return _failure(request, help_center, "sso_disabled", "", record=False)
    _, url = services.help_center_saml_request_create(
        help_center=help_center, relay_state=_next(help_center, request.GET.get("next", ""))
    )
    return HttpResponseRedirect(url)


def _test_request(help_center: HelpCenter, relay_state: str) -> HelpCenterSamlRequest | None:
    if help_center.pk is None or "\x00" in relay_state:  # PostgreSQL refuses NUL in text
        return None
    return HelpCenterSamlRequest.objects.filter(
        help_center=help_center, request_id=relay_state[:64], test_mode=True
    ).first()


@csrf_exempt
@require_POST
def saml_acs(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(site_id)
    posted_relay = request.POST.get("RelayState", "")
    test_request = _test_request(help_center, posted_relay)
    store = HelpCenterStateStore(help_center)
    processor = ResponseProcessor(
        settings=selectors.processor_settings(help_center),
        saml_response=request.POST.get("SAMLResponse", ""),
        now=timezone.now(),
        store=store,
    )
    try:
        with transaction.atomic():
            result = processor.run()
    except SamlError as exc:
        return _failure(
            request, help_center, exc.reason, exc.detail, test_request=test_request, message=exc.message
        )
    if store.consumed is not None and store.consumed.test_mode:
        return _test_outcome(request, help_center, store.consumed, result)
    try:
        customer = services.customer_sso_signin(help_center=help_center, result=result)
    except CustomerSigninRefused as exc:
        return _failure(
            request, help_center, exc.reason, exc.message, email=result.email, message=exc.message
        )
    next_url = store.consumed.relay_state if store.consumed is not None else posted_relay
    customer_login(request, help_center, customer)
    return HttpResponseRedirect(_next(help_center, next_url))


def _failure(
    request: HttpRequest,
    help_center: HelpCenter,
    reason: str,
    detail: str,
    *,
    test_request: HelpCenterSamlRequest | None = None,
    email: str = "",
    record: bool = True,
    message: str = "",
) -> HttpResponse:
    """The failure page: the reason code and ``message``, its plain sentence, the same for every
    customer (as ``sso.views._failure``); ``detail`` only for the admin who started a test."""
    test = False
    if test_request is not None and test_request.requested_by is not None:
        try:
            services.help_center_sso_test_record(
                help_center=help_center, actor=test_request.requested_by, reason=reason
            )
            test = True
        except NotFound:  # no longer an admin
            pass
    if record:
        services.customer_sso_failure_record(
            help_center=help_center, reason=reason, detail=detail, email=email
        )
    context = _context(
        help_center,
        reason=reason,
        message=message,
        detail=detail if test and detail != message else "",
        test=test,
    )
    return render(request, "helpcenter/failure.html", context, status=400)


def _test_outcome(
    request: HttpRequest, help_center: HelpCenter, test_request: HelpCenterSamlRequest, result: SamlResult
) -> HttpResponse:
    try:
        services.help_center_sso_test_record(
            help_center=help_center, actor=test_request.requested_by, reason="ok", email=result.email
        )
    except NotFound as exc:
        raise Http404() from exc
    return render(request, "helpcenter/test_result.html", _context(help_center, result=result))
