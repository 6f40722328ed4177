"""Security → Identity providers: add an IdP (its directory and default policy), configure SAML,
certificates, metadata import, domain links, and "Test single sign-on". Thin: forms → services.

A connection of another org is a 404 (``connection_get`` only looks inside ``request.org``).

What breaks sign-in asks first. Removing an IdP asks in place (its "Remove …" opens the question
under it). Removing a signing certificate and unlinking a domain each have a confirmation page: the
GET of their URL says what stops working, its button POSTs. Adding a certificate, linking a domain
and saving the configuration act at once.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.views.base import org_admin_view, removed_already
from orgwarden.console.views.confirm import Confirm, confirm_page
from orgwarden.idn import idn_unicode
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.orgs.selectors import domains as domain_selectors
from orgwarden.sso import selectors, services
from orgwarden.sso.forms import CertificateForm, DomainLinkForm, IdpAddForm, IdpConfigForm, MetadataForm
from orgwarden.sso.models import SamlConnection
from orgwarden.sso.vendors import PRESETS

NAV = "identity-providers"


def _connection(request: HttpRequest, connection_id: str) -> SamlConnection:
    try:
        return selectors.connection_get(org=request.org, connection_id=connection_id)
    except NotFound as exc:
        raise Http404("No such identity provider") from exc


def _to_detail(request: HttpRequest, connection: SamlConnection) -> HttpResponse:
    return redirect(
        "console:identity_provider", org_id=request.org.org_id, connection_id=connection.connection_id
    )


@org_admin_view
@require_http_methods(["GET", "POST"])
def identity_providers(request: HttpRequest) -> HttpResponse:
    form = IdpAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.idp_add(org=request.org, actor=request.user, **form.cleaned_data)
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{connection.directory.name} added. Configure SAML below.")
            return _to_detail(request, connection)
    return render(
        request,
        "console/identity_providers/list.html",
        {
            "form": form,
            "connections": selectors.connections_of(org=request.org),
            "warn_before": selectors.expiry_warning_before(),
            "nav_active": NAV,
        },
        status=400 if form.errors else 200,
    )


def _detail(request: HttpRequest, connection: SamlConnection, status: int = 200, **forms) -> HttpResponse:
    initial = {key: getattr(connection, key) for key in services.UPDATABLE}
    context = {
        "connection": connection,
        "config_form": forms.get("config_form") or IdpConfigForm(initial=initial),
        "certificate_form": forms.get("certificate_form") or CertificateForm(),
        "metadata_form": forms.get("metadata_form") or MetadataForm(),
        "certificates": selectors.certificates_of(org=request.org, connection=connection),
        "links": selectors.domain_links_of(org=request.org, connection=connection),
        "linkable": selectors.linkable_domains(org=request.org),
        "sp_entity_id": selectors.sp_entity_id(connection),
        "acs_url": selectors.acs_url(connection),
        "preset": PRESETS[connection.vendor],
        "policy": selectors.default_policy(connection),
        "nav_active": NAV,
    }
    return render(request, "console/identity_providers/detail.html", context, status=status)


@org_admin_view
@require_http_methods(["GET", "POST"])
def identity_provider(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(request, connection_id)
    if request.method != "POST":
        return _detail(request, connection)
    form = IdpConfigForm(request.POST)
    if form.is_valid():
        try:
            services.idp_update(
                org=request.org, actor=request.user, connection_id=connection_id, **form.cleaned_data
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "SAML configuration saved.")
            return _to_detail(request, connection)
    return _detail(request, connection, status=400, config_form=form)


@org_admin_view
@require_POST
def identity_provider_certificate_add(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(request, connection_id)
    form = CertificateForm(request.POST)
    if form.is_valid():
        try:
            services.idp_certificate_add(
                org=request.org, actor=request.user, connection_id=connection_id, pem=form.cleaned_data["pem"]
            )
        except OrgsError as exc:
            form.add_error("pem", exc.message)
        else:
            messages.success(request, "Certificate added.")
            return _to_detail(request, connection)
    return _detail(request, connection, status=400, certificate_form=form)


def _certificate_confirm(
    request: HttpRequest, connection: SamlConnection, certificate_id: str
) -> HttpResponse:
    rows = selectors.certificates_of(org=request.org, connection=connection)
    row = next((r for r in rows if r.certificate.certificate_id == certificate_id), None)
    name = connection.directory.name
    if row is None:  # opened again after the removal: the org's log says so; any other id is a 404
        return _certificate_removed_already(request, connection, certificate_id)
    if row.expired:
        lines = [f"It has expired: {name}'s responses signed with it are refused already."]
    elif len(rows) == 1:
        lines = [
            f"It is {name}'s only signing certificate: every single sign-on through {name} is refused "
            "from now on, until you add another."
        ]
    else:
        lines = [
            f"Responses signed with it are refused from now on: while {name} still signs with this "
            f"certificate, every single sign-on through {name} fails. Remove it once {name} signs with "
            "the other."
        ]
    lines.append("To trust it again, you paste its certificate again.")
    confirm = Confirm(
        title=f"Remove the certificate {row.certificate.subject} from {name}?",
        subtitle=f"SHA-256 {row.certificate.fingerprint_sha256}",
        lines=lines,
        button="Remove certificate",
        back_url=reverse("console:identity_provider", args=[request.org.org_id, connection.connection_id]),
        back_label=name,
    )
    return confirm_page(request, confirm, nav_active=NAV)


@org_admin_view
@require_http_methods(["GET", "POST"])
def identity_provider_certificate_remove(
    request: HttpRequest, connection_id: str, certificate_id: str
) -> HttpResponse:
    """Stop trusting one of the IdP's signing certificates, after a confirmation (GET) saying
    whether sign-ins break; only its button (POST) removes."""
    connection = _connection(request, connection_id)
    if request.method == "GET":
        return _certificate_confirm(request, connection, certificate_id)
    try:
        services.idp_certificate_remove(
            org=request.org, actor=request.user, connection_id=connection_id, certificate_id=certificate_id
        )
    except NotFound:  # sent twice: the org's log names the certificate; another IdP's or org's is a 404
        return _certificate_removed_already(request, connection, certificate_id)
    messages.success(request, "Certificate removed.")
    return _to_detail(request, connection)


def _certificate_removed_already(
    request: HttpRequest, connection: SamlConnection, certificate_id: str
) -> HttpResponse:
    """Back to the IdP's page saying its certificate was removed already, if the org's log says so;
    ``Http404`` for any other id: another IdP's, another org's, or none."""
    _, certificate = removed_already(
        request, action="org:idp:certificate_removed", target_ids=[connection.connection_id, certificate_id]
    )
    what = f"The certificate {certificate['name']}" if certificate.get("name") else "The certificate"
    messages.info(request, f"{what} was removed from {connection.directory.name} already.")
    return _to_detail(request, connection)


@org_admin_view
@require_POST
def identity_provider_metadata(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(request, connection_id)
    form = MetadataForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.idp_metadata_import(
                org=request.org,
                actor=request.user,
                connection_id=connection_id,
                document=form.cleaned_data["document"],
            )
        except OrgsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Metadata imported: entity ID, SSO URL and certificates filled in.")
            return _to_detail(request, connection)
    return _detail(request, connection, status=400, metadata_form=form)


@org_admin_view
@require_POST
def identity_provider_domain_link(request: HttpRequest, connection_id: str) -> HttpResponse:
    connection = _connection(request, connection_id)
    form = DomainLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a verified domain.")
        return _to_detail(request, connection)
    try:
        link = services.idp_domain_link(
            org=request.org,
            actor=request.user,
            connection_id=connection_id,
            domain_id=form.cleaned_data["domain_id"],
        )
    except NotFound as exc:
        raise Http404() from exc
    except OrgsError as exc:
        messages.error(request, exc.message)
        return _to_detail(request, connection)
    name = idn_unicode(link.domain.name)
    messages.success(request, f"{name} now signs in through {connection.directory.name}.")
    return _to_detail(request, connection)


def _unlink_confirm(request: HttpRequest, connection: SamlConnection, link) -> HttpResponse:
    name, domain = connection.directory.name, idn_unicode(link.domain.name)
    lines = [
        f"{name} stops speaking for {domain} now: its single sign-ons of {domain} addresses are refused. "
        f"People on {domain} whose policy enforces single sign-on can't sign in until it is linked "
        "again; the others sign in with a password."
    ]
    if managed := domain_selectors.managed_counts(org=request.org).get(link.domain_id, 0):
        lines.append(f"{managed} managed account{'s are' if managed != 1 else ' is'} on {domain}.")
    lines.append(f"Linking {domain} again gives it back.")
    confirm = Confirm(
        title=f"Unlink {domain} from {name}?",
        lines=lines,
        button=f"Unlink {domain}",
        back_url=reverse("console:identity_provider", args=[request.org.org_id, connection.connection_id]),
        back_label=name,
    )
    return confirm_page(request, confirm, nav_active=NAV)


@org_admin_view
@require_http_methods(["GET", "POST"])
def identity_provider_domain_unlink(request: HttpRequest, connection_id: str, domain_id: str) -> HttpResponse:
    """Unlink a domain from the IdP, after a confirmation (GET): its people's single sign-on through
    this IdP stops at once. Only the confirmation's button (POST) unlinks."""
    connection = _connection(request, connection_id)
    try:
        if request.method == "GET":
            if "\x00" in domain_id:  # PostgreSQL refuses NUL in a query (a 500, not a 404)
                raise Http404()
            link = selectors.domain_links_of(org=request.org, connection=connection).filter(
                domain__domain_id=domain_id
            )
            if (found := link.first()) is None:
                raise NotFound()
            return _unlink_confirm(request, connection, found)
        services.idp_domain_unlink(
            org=request.org, actor=request.user, connection_id=connection_id, domain_id=domain_id
        )
    except NotFound:  # sent twice: the org's log says it was unlinked; anything else is a 404
        _, domain = removed_already(
            request, action="org:idp:domain_unlinked", target_ids=[connection_id, domain_id]
        )
        name = idn_unicode(domain["name"])
        messages.info(request, f"{name} was unlinked from {connection.directory.name} already.")
    else:
        messages.success(request, "Domain unlinked.")
    return _to_detail(request, connection)


@org_admin_view
@require_POST
def identity_provider_test(request: HttpRequest, connection_id: str) -> HttpResponse:
    """Start an SP-initiated sign-in in test mode: the ACS shows the outcome, signs nobody in."""
    connection = _connection(request, connection_id)
    if not connection.is_configured or not connection.certificates.exists():
        messages.error(request, "Enter the entity ID, the SSO URL and a certificate before testing.")
        return _to_detail(request, connection)
    try:
        _, url = services.saml_request_create(connection=connection, relay_state="", test_by=request.user)
    except NotFound as exc:
        raise Http404() from exc
    # A page that moves on to the IdP, not a redirect: CSP ``form-action 'self'`` stops a form POST's
    # redirect chain at another origin.
    context = {
        "url": url,
        "title": f"Testing {connection.directory.name}",
        "message": "Sign in at your identity provider; you'll come back to the outcome. "
        "Nobody is signed in here.",
        "idp_name": connection.directory.name,
    }
    return render(request, "sso/redirect.html", context)


@org_admin_view
@require_POST
def identity_provider_remove(request: HttpRequest, connection_id: str) -> HttpResponse:
    try:
        name = selectors.connection_get(org=request.org, connection_id=connection_id).directory.name
        services.idp_remove(org=request.org, actor=request.user, connection_id=connection_id)
    except NotFound:  # sent twice, or from a second tab: the org's log says it went; else a 404
        (gone,) = removed_already(request, action="org:idp:removed", target_ids=[connection_id])
        messages.info(request, f"{gone['name']} was removed already.")
    else:
        messages.success(request, f"{name} removed.")
    return redirect("console:identity_providers", org_id=request.org.org_id)
