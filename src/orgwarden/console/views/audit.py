"""Security → Audit log (filled in by the audit log page work)."""

from django.http import HttpResponse

from orgwarden.console.views.base import org_admin_view


@org_admin_view
def audit_log(request):
    return HttpResponse("audit log")


@org_admin_view
def audit_export(request):
    return HttpResponse("", content_type="text/csv")
