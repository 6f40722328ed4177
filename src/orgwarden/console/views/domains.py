"""Directory → Domains: add, verify, claim settings, review and claim accounts, remove.

Every domain URL carries the org and the domain's id; a domain of another org is a 404 (the
selector only looks inside ``request.org``). Verification talks to DNS or to the domain's web
server, so its outcome — success or the exact reason for failure — comes back as a message on the
domain's page, where ``last_check_error`` keeps it.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from orgwarden.console.forms_domains import (
    AccountSearchForm,
    ClaimSelectedForm,
    DomainAddForm,
    DomainClaimForm,
    DomainVerifyForm,
)
from orgwarden.console.views.base import org_admin_view, removed_already
from orgwarden.idn import idn_unicode
from orgwarden.orgs import proofs
from orgwarden.orgs.exceptions import NotFound, OrgsError
from orgwarden.orgs.models import Domain
from orgwarden.orgs.selectors import domains as selectors
from orgwarden.orgs.services import domains as services

NAV = "domains"


def _domain(request: HttpRequest, domain_id: str) -> Domain:
    try:
        return selectors.domain_get(org=request.org, domain_id=domain_id)
    except NotFound as exc:
        raise Http404("No such domain") from exc


def _to_detail(request: HttpRequest, domain: Domain) -> HttpResponse:
    return redirect("console:domain", org_id=request.org.org_id, domain_id=domain.domain_id)


@org_admin_view
@require_http_methods(["GET", "POST"])
def domains(request: HttpRequest) -> HttpResponse:
    org = request.org
    form = DomainAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            domain = services.domain_add(org=org, actor=request.user, name=form.cleaned_data["name"])
        except NotFound as exc:
            raise Http404() from exc
        except OrgsError as exc:
            form.add_error("name", exc.message)
        else:
            name = idn_unicode(domain.name)
            messages.success(request, f"{name} added. Publish one of the proofs below, then verify.")
            return _to_detail(request, domain)
    counts = selectors.managed_counts(org=org)
    rows = [(domain, counts.get(domain.pk, 0)) for domain in selectors.domains_of(org=org)]
    return render(
        request,
        "console/domains/list.html",
        {"form": form, "rows": rows, "nav_active": NAV},
        status=400 if form.errors else 200,
    )


def _detail(
    request: HttpRequest,
    domain: Domain,
    *,
    claim_form: DomainClaimForm | None = None,
    verify_error: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "console/domains/detail.html",
        {
            "domain": domain,
            "claim_form": claim_form or DomainClaimForm(initial={"claim": domain.claim}),
            "verify_error": verify_error,
            "managed": selectors.managed_counts(org=request.org).get(domain.pk, 0),
            "txt_value": proofs.TXT_PREFIX + domain.token,
            "file_url": f"https://{domain.name}{proofs.HTTPS_PATH}",
            "nav_active": NAV,
        },
        status=status,
    )


@org_admin_view
@require_http_methods(["GET"])
def domain(request: HttpRequest, domain_id: str) -> HttpResponse:
    return _detail(request, _domain(request, domain_id))


@org_admin_view
@require_POST
def domain_verify(request: HttpRequest, domain_id: str) -> HttpResponse:
    domain = _domain(request, domain_id)
    form = DomainVerifyForm(request.POST)
    if not form.is_valid():
        return _detail(request, domain, verify_error="Choose how to verify: DNS or HTTPS.", status=400)
    try:
        result = services.domain_verify(
            org=request.org,
            actor=request.user,
            domain_id=domain.domain_id,
            method=form.cleaned_data["method"],
        )
    except NotFound as exc:
        raise Http404() from exc
    # Why the check failed is the page's own "Last check" notice (or, for a verified domain, its
    # "proof is missing" one): the message says only what it means, not the reason a second time.
    name = idn_unicode(domain.name)
    proof = "DNS record" if form.cleaned_data["method"] == "dns" else "HTTPS file"
    if domain.status == Domain.Status.VERIFIED:  # a check of a verified domain's proof
        if result.verified:
            messages.success(request, f"{name}'s {proof} is in place. It stays verified.")
        else:
            messages.error(request, f"{name} stays verified, but its {proof} was not found.")
    elif result.verified:
        messages.success(request, f"{name} is verified. Choose how to claim its accounts.")
    else:
        messages.error(request, f"{name} is not verified yet.")
    return _to_detail(request, result.domain)


@org_admin_view
@require_POST
def domain_claim(request: HttpRequest, domain_id: str) -> HttpResponse:
    domain = _domain(request, domain_id)
    form = DomainClaimForm(request.POST)
    if form.is_valid():
        try:
            result = services.domain_claim_set(
                org=request.org,
                actor=request.user,
                domain_id=domain.domain_id,
                claim=form.cleaned_data["claim"],
            )
        except NotFound as exc:
            raise Http404() from exc
        except OrgsError as exc:
            form.add_error("claim", exc.message)
        else:
            name = idn_unicode(domain.name)
            if result.domain.claim == Domain.Claim.AUTOMATIC:
                text = f"{name}'s accounts are claimed automatically. {result.claimed} claimed now"
                if result.skipped:
                    text += f"; {result.skipped} skipped (managed by another organization)"
                messages.success(request, text + ".")
            else:
                messages.success(request, f"{name}'s accounts are claimed manually.")
            return _to_detail(request, result.domain)
    return _detail(request, domain, claim_form=form, status=400)


@org_admin_view
@require_POST
def domain_remove(request: HttpRequest, domain_id: str) -> HttpResponse:
    try:
        domain = selectors.domain_get(org=request.org, domain_id=domain_id)
        released = services.domain_remove(org=request.org, actor=request.user, domain_id=domain.domain_id)
    except NotFound:  # sent twice, or from a second tab: the org's log says it went; else a 404
        (gone,) = removed_already(request, action="org:domain:removed", target_ids=[domain_id])
        messages.info(request, f"{idn_unicode(gone['name'])} was removed already.")
        return redirect("console:domains", org_id=request.org.org_id)
    text = f"{idn_unicode(domain.name)} removed."
    if released:
        text += f" {released} account(s) claimed through it are no longer managed."
    messages.success(request, text)
    return redirect("console:domains", org_id=request.org.org_id)


@org_admin_view
@require_http_methods(["GET", "POST"])
def domain_accounts(request: HttpRequest, domain_id: str) -> HttpResponse:
    """Review the accounts on a verified domain that this org does not manage; claim a selection."""
    org, domain = request.org, _domain(request, domain_id)
    search = AccountSearchForm(request.GET)
    claim_form = ClaimSelectedForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if claim_form.is_valid():
            try:
                result = services.accounts_claim(
                    org=org,
                    actor=request.user,
                    domain_id=domain.domain_id,
                    account_ids=claim_form.cleaned_data["account"],
                )
            except NotFound as exc:
                raise Http404() from exc
            except OrgsError as exc:
                claim_form.add_error(None, exc.message)
            else:
                text = f"{result.claimed} account{'s' if result.claimed != 1 else ''} claimed"
                if result.skipped:
                    text += f"; {result.skipped} skipped (managed by another organization)"
                messages.success(request, text + ".")
                return redirect(request.get_full_path())
        status = 400
    if not search.is_valid():
        return render(
            request,
            "console/domains/accounts.html",
            {"domain": domain, "search": search, "claim_form": claim_form, "page": None, "nav_active": NAV},
            status=400,
        )
    q, after = search.cleaned_data["q"], search.cleaned_data["after"]
    page = selectors.domain_accounts_unmanaged(org=org, domain=domain, q=q, after=after)
    return render(
        request,
        "console/domains/accounts.html",
        {
            "domain": domain,
            "search": search,
            "claim_form": claim_form,
            "page": page,
            "after": after,
            "q": q,
            "nav_active": NAV,
        },
        status=status,
    )
