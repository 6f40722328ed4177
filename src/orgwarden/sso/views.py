"""The SAML service provider's endpoints. Thin: the processor decides, these only wire HTTP to it.

- ``metadata`` (also served at the SP entity ID itself): our SP metadata XML;
- ``login``: SP-initiated sign-in — store an AuthnRequest, redirect to the IdP (HTTP-Redirect);
- ``acs``: the IdP POSTs the Response here (csrf-exempt: it comes from the IdP's page). Valid →
  the sign-in flow continues with proof ``"sso"``; refused → a page with the reason code and an
  ``account:signin:sso_failed`` audit event. A test started from the console shows the outcome
  instead of signing in.
"""

from __future__ import annotations

from django.contrib.auth import logout
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from orgwarden.accounts import signin
from orgwarden.orgs.exceptions import NotFound
from orgwarden.policies import selectors as policy_selectors
from orgwarden.sso import selectors, services
from orgwarden.sso.exceptions import SsoSigninRefused
from orgwarden.sso.models import SamlConnection, SamlRequest
from orgwarden.sso.processors.errors import SamlError
from orgwarden.sso.processors.metadata import sp_metadata_xml
from orgwarden.sso.processors.response import ResponseProcessor, SamlResult
from orgwarden.sso.store import DatabaseStateStore


def _connection(connection_id: str) -> SamlConnection:
    try:
        return selectors.connection_public(connection_id=connection_id)
    except NotFound as exc:
        raise Http404() from exc


def local_path(value: str) -> str:
    """``value`` if it is a path on this site (never another host), else ``""``."""
    value = (value or "").strip()
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 32 for c in value)
    ):
        return ""
    return value[:2000]


def product_site_path(connection: SamlConnection, relay_state: str) -> str:
    """The launch path of the product site ``relay_state`` names, if it is one of the org's."""
    from django.urls import reverse

    from orgwarden.orgs.models import ProductSite

    site_id = relay_state.strip()
    if not site_id or len(site_id) > 64 or not site_id.isalnum():
        return ""
    if not ProductSite.objects.filter(org=connection.org, site_id=site_id).exists():
        return ""
    return reverse("console:launch", args=[site_id])


@require_GET
def metadata(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(connection_id)
    xml = sp_metadata_xml(
        sp_entity_id=selectors.sp_entity_id(connection), acs_url=selectors.acs_url(connection)
    )
    response = HttpResponse(xml, content_type="application/samlmetadata+xml")
    if request.GET.get("download"):
        response["Content-Disposition"] = (
            f'attachment; filename="orgwarden-sp-{connection.connection_id}.xml"'
        )
    return response


@require_GET
def login(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(connection_id)
    if not connection.is_configured:
        return render(request, "sso/failure.html", {"reason": "not_configured", "test": False}, status=400)
    _, url = services.saml_request_create(
        connection=connection, relay_state=local_path(request.GET.get("next", ""))
    )
    return HttpResponseRedirect(url)


def _test_request(connection: SamlConnection, relay_state: str) -> SamlRequest | None:
    if "\x00" in relay_state:  # never one of our request ids, and PostgreSQL refuses NUL in text
        return None
    return SamlRequest.objects.filter(
        connection=connection, request_id=relay_state[:64], test_mode=True
    ).first()


@csrf_exempt
@require_POST
def acs(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(connection_id)
    posted_relay = request.POST.get("RelayState", "")
    test_request = _test_request(connection, posted_relay)
    store = DatabaseStateStore(connection)
    processor = ResponseProcessor(
        settings=selectors.processor_settings(connection),
        saml_response=request.POST.get("SAMLResponse", ""),
        now=timezone.now(),
        store=store,
    )
    try:
        with transaction.atomic():
            result = processor.run()
    except SamlError as exc:
        return _failure(
            request, connection, exc.reason, exc.detail, test_request=test_request, message=exc.message
        )
    if store.consumed is not None and store.consumed.test_mode:
        return _test_outcome(request, store.consumed, result)
    try:
        account = services.sso_signin_complete(connection=connection, result=result)
    except SsoSigninRefused as exc:
        return _failure(request, connection, exc.reason, exc.message, email=result.email, message=exc.message)
    if store.consumed is not None:
        next_url = store.consumed.relay_state
    else:  # IdP-initiated: RelayState may name a local path or one of the org's product sites
        next_url = local_path(posted_relay) or product_site_path(connection, posted_relay)
    if request.user.is_authenticated and request.user.pk != account.pk:
        logout(request)
    flow = signin.flow_start(request, email=account.email, next_url=next_url, proofs=["sso"])
    return signin.flow_advance(request, flow)


def _failure(
    request: HttpRequest,
    connection: SamlConnection,
    reason: str,
    detail: str,
    *,
    test_request: SamlRequest | None = None,
    email: str = "",
    message: str = "",
) -> HttpResponse:
    """The failure page: the reason code, and ``message``, the plain sentence that goes with it
    (the same for everyone: no document detail). ``detail`` (what exactly failed) is shown only to
    the admin who started a test."""
    test = False
    if test_request is not None and test_request.requested_by is not None:
        try:
            services.sso_test_record(connection=connection, actor=test_request.requested_by, reason=reason)
            test = True
        except NotFound:  # no longer an admin
            pass
    services.sso_failure_record(connection=connection, reason=reason, detail=detail, email=email)
    context = {
        "reason": reason,
        "message": message,
        "detail": detail if test and detail != message else "",
        "test": test,
        "connection": connection,
    }
    return render(request, "sso/failure.html", context, status=400)


def _test_outcome(request: HttpRequest, test_request: SamlRequest, result: SamlResult) -> HttpResponse:
    """The test passed: what the IdP sent, and what a real sign-in with it would do — sign in which
    account, create one just in time, or be refused and why (the Entra ID pitfall of a NameID on
    tenant.onmicrosoft.com, or testing before SSO is enforced, when nobody would be created). The
    event's ``warning`` is the refusal's code."""
    connection = test_request.connection
    plan = selectors.signin_plan(connection, result)
    try:
        services.sso_test_record(
            connection=connection,
            actor=test_request.requested_by,
            reason="ok",
            email=result.email,
            warning=plan.refusal.reason if plan.refusal else "",
        )
    except NotFound as exc:  # the admin who started the test is no longer one
        raise Http404() from exc
    policy = None
    if plan.refusal is None:
        policy = (
            policy_selectors.policy_for(plan.account)
            if plan.account
            else selectors.default_policy(connection)
        )
    context = {"connection": connection, "result": result, "plan": plan, "policy": policy}
    return render(request, "sso/test_result.html", context)
