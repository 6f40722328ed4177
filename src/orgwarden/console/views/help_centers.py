"""Products → Help centers: the help centers of the org's Jira Service Management sites, each with
its customers (search, deactivate, reactivate, remove), its authentication choice (password, SSO,
both) and its own customer IdP (entity ID, SSO URL, certificates, metadata import, "Test single
sign-on"). Thin: forms → ``helpcenter.services``; another org's site is a 404.

Removing a customer (its portal account is deleted) and removing a signing certificate (customers'
single sign-on with it stops) cannot be undone: each asks first, the GET of its URL being the
confirmation and the POST the removal. Deactivating and reactivating a customer act at once: one
person, and the other button undoes it with nothing lost.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view, removed_already
from orgwarden.console.views.confirm import Confirm, confirm_page
from orgwarden.helpcenter import selectors, services
from orgwarden.helpcenter.forms import AuthenticationForm, HelpCenterIdpForm
from orgwarden.helpcenter.models import HelpCenter
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.sso.forms import CertificateForm, MetadataForm

NAV = "help-centers"


def _help_center(request: HttpRequest, site_id: str) -> HelpCenter:
    try:
        return selectors.help_center_get(org=request.org, site_id=site_id)
    except NotFound as exc:
        raise Http404("No such help center") from exc


def _to_detail(request: HttpRequest, site_id: str) -> HttpResponse:
    return redirect("console:help_center", org_id=request.org.org_id, site_id=site_id)


@org_admin_view
@require_GET
def help_centers(request: HttpRequest) -> HttpResponse:
    context = {"sites": selectors.help_centers_of(org=request.org), "nav_active": NAV}
    return render(request, "console/help_centers/list.html", context)


def _detail(request: HttpRequest, help_center: HelpCenter, status: int = 200, **forms) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    state = request.GET.get("status", "")
    customers = selectors.customers_of(org=request.org, help_center=help_center, query=query, status=state)
    page = Paginator(customers, selectors.CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    initial_idp = {key: getattr(help_center, key) for key in services.IDP_FIELDS}
    context = {
        "help_center": help_center,
        "site": help_center.site,
        "page": page,
        "query": query,
        "status": state,
        "auth_form": forms.get("auth_form")
        or AuthenticationForm(
            initial={"password_enabled": help_center.password_enabled, "sso_enabled": help_center.sso_enabled}
        ),
        "idp_form": forms.get("idp_form") or HelpCenterIdpForm(initial=initial_idp),
        "certificate_form": forms.get("certificate_form") or CertificateForm(),
        "metadata_form": forms.get("metadata_form") or MetadataForm(),
        "certificates": selectors.certificates_of(help_center),
        "portal_url": selectors.portal_url(help_center),
        "sp_entity_id": selectors.sp_entity_id(help_center),
        "acs_url": selectors.acs_url(help_center),
        "nav_active": NAV,
    }
    return render(request, "console/help_centers/detail.html", context, status=status)


@org_admin_view
@require_GET
def help_center(request: HttpRequest, site_id: str) -> HttpResponse:
    return _detail(request, _help_center(request, site_id))


@org_admin_view
@require_POST
def help_center_authentication(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(request, site_id)
    form = AuthenticationForm(request.POST)
    if form.is_valid():
        try:
            services.help_center_authentication_set(
                org=request.org, actor=request.user, site_id=site_id, **form.cleaned_data
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Authentication saved.")
            return _to_detail(request, site_id)
    return _detail(request, help_center, status=400, auth_form=form)


@org_admin_view
@require_POST
def help_center_idp(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(request, site_id)
    form = HelpCenterIdpForm(request.POST)
    if form.is_valid():
        try:
            services.help_center_idp_update(
                org=request.org, actor=request.user, site_id=site_id, **form.cleaned_data
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Identity provider saved.")
            return _to_detail(request, site_id)
    return _detail(request, help_center, status=400, idp_form=form)


@org_admin_view
@require_POST
def help_center_certificate_add(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(request, site_id)
    form = CertificateForm(request.POST)
    if form.is_valid():
        try:
            services.help_center_certificate_add(
                org=request.org, actor=request.user, site_id=site_id, pem=form.cleaned_data["pem"]
            )
        except OrgsError as exc:
            form.add_error("pem", exc.message)
        else:
            messages.success(request, "Certificate added.")
            return _to_detail(request, site_id)
    return _detail(request, help_center, status=400, certificate_form=form)


def _certificate_confirm(request: HttpRequest, help_center: HelpCenter, certificate_id: str) -> HttpResponse:
    certificates = selectors.certificates_of(help_center)
    certificate = next((c for c in certificates if c.certificate_id == certificate_id), None)
    name = help_center.site.name
    if certificate is None:  # opened again after the removal: the org's log says so; any other id is a 404
        return _certificate_removed_already(request, help_center, certificate_id)
    if help_center.sso_enabled and len(certificates) == 1:  # the service refuses it: say so now
        messages.error(request, "Single sign-on is on: keep at least one certificate, or turn SSO off first.")
        return _to_detail(request, help_center.site.site_id)
    if help_center.sso_enabled:
        lines = [
            f"Responses signed with it are refused from now on: while the customers' identity provider "
            f"still signs with this certificate, nobody signs in to {name}'s portal with single sign-on."
        ]
    else:
        lines = [f"Single sign-on is off, so no sign-in to {name}'s portal changes now."]
    lines.append("To trust it again, you paste its certificate again.")
    confirm = Confirm(
        title=f"Remove the certificate {certificate.subject} from {name}?",
        subtitle=f"SHA-256 {certificate.fingerprint_sha256}",
        lines=lines,
        button="Remove certificate",
        back_url=reverse("console:help_center", args=[request.org.org_id, help_center.site.site_id]),
        back_label=name,
    )
    return confirm_page(request, confirm, nav_active=NAV)


@org_admin_view
@require_http_methods(["GET", "POST"])
def help_center_certificate_remove(request: HttpRequest, site_id: str, certificate_id: str) -> HttpResponse:
    """Stop trusting a certificate of the customers' IdP, after a confirmation (GET); its button POSTs."""
    help_center = _help_center(request, site_id)
    if request.method == "GET":
        return _certificate_confirm(request, help_center, certificate_id)
    try:
        services.help_center_certificate_remove(
            org=request.org, actor=request.user, site_id=site_id, certificate_id=certificate_id
        )
    except NotFound:  # sent twice: the org's log names the certificate; another one's is a 404
        return _certificate_removed_already(request, help_center, certificate_id)
    except OrgsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Certificate removed.")
    return _to_detail(request, site_id)


def _certificate_removed_already(
    request: HttpRequest, help_center: HelpCenter, certificate_id: str
) -> HttpResponse:
    """Back to the help center saying its certificate was removed already, if the org's log says so;
    ``Http404`` for any other id: another help center's, another org's, or none."""
    site = help_center.site
    _, certificate = removed_already(
        request, action="helpcenter:idp:certificate_removed", target_ids=[site.site_id, certificate_id]
    )
    what = f"The certificate {certificate['name']}" if certificate.get("name") else "The certificate"
    messages.info(request, f"{what} was removed from {site.name} already.")
    return _to_detail(request, site.site_id)


@org_admin_view
@require_POST
def help_center_metadata(request: HttpRequest, site_id: str) -> HttpResponse:
    help_center = _help_center(request, site_id)
    form = MetadataForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.help_center_metadata_import(
                org=request.org, actor=request.user, site_id=site_id, document=form.cleaned_data["document"]
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Metadata imported: entity ID, SSO URL and certificates filled in.")
            return _to_detail(request, site_id)
    return _detail(request, help_center, status=400, metadata_form=form)


@org_admin_view
@require_POST
def help_center_test(request: HttpRequest, site_id: str) -> HttpResponse:
    """Start an SP-initiated sign-in in test mode: the ACS shows the outcome, signs nobody in."""
    help_center = _help_center(request, site_id)
    if not help_center.is_configured or not selectors.certificates_of(help_center):
        messages.error(request, "Enter the entity ID, the SSO URL and a certificate before testing.")
        return _to_detail(request, site_id)
    _, url = services.help_center_saml_request_create(
        help_center=help_center, relay_state="", test_by=request.user
    )
    context = {
        "url": url,
        "title": f"Testing the identity provider of {help_center.site.name}",
        "message": "Sign in at the identity provider; you'll come back to the outcome. Nobody is signed in.",
        "idp_name": "the identity provider",
    }
    return render(request, "sso/redirect.html", context)


def _customer_confirm(request: HttpRequest, help_center: HelpCenter, customer_id: str) -> HttpResponse:
    customer = selectors.customer_get(org=request.org, help_center=help_center, customer_id=customer_id)
    email, name = idn_unicode(customer.email), help_center.site.name
    confirm = Confirm(
        title=f"Remove the customer {email}?",
        subtitle=customer.display_name,
        lines=[
            f"Their account on {name}'s portal is deleted now: they can't sign in to it any more, "
            "and their password goes with it.",
            "This cannot be undone; they can sign up again as a new customer if the portal lets them.",
        ],
        button="Remove customer",
        back_url=reverse("console:help_center", args=[request.org.org_id, help_center.site.site_id]),
        back_label=name,
    )
    return confirm_page(request, confirm, nav_active=NAV)


def _customer_action(service, done: str, removed: str | None = None):
    """A POST on one customer; ``removed``: the action of the event that removes it, to say a
    removal sent twice was done already instead of a 404, and to answer its URL's GET with the
    confirmation (removing cannot be undone)."""

    @org_admin_view
    @require_http_methods(["GET", "POST"] if removed else ["POST"])
    def view(request: HttpRequest, site_id: str, customer_id: str) -> HttpResponse:
        help_center = _help_center(request, site_id)
        try:
            if request.method == "GET":
                return _customer_confirm(request, help_center, customer_id)
            customer = service(org=request.org, actor=request.user, site_id=site_id, customer_id=customer_id)
        except NotFound as exc:
            if removed is None:
                raise Http404() from exc
            # Sent twice: the org's log says the customer went; anyone else's is a 404.
            _, gone = removed_already(request, action=removed, target_ids=[site_id, customer_id])
            messages.info(request, f"{idn_unicode(gone.get('email') or gone['name'])} was removed already.")
            return _to_detail(request, site_id)
        messages.success(request, f"{idn_unicode(customer.email) if customer else 'Customer'} {done}.")
        return _to_detail(request, site_id)

    return view


customer_deactivate = _customer_action(services.customer_deactivate, "deactivated")
customer_reactivate = _customer_action(services.customer_reactivate, "reactivated")
customer_remove = _customer_action(services.customer_remove, "removed", "helpcenter:customer:removed")
