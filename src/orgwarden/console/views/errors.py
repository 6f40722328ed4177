"""Error pages that keep the product's look and say what to do next."""

from django.shortcuts import render


def csrf_failure(request, reason=""):
    return render(request, "console/errors/csrf.html", status=403)


def not_found(request, exception=None):
    return render(request, "console/errors/404.html", status=404)


def server_error(request):
    return render(request, "console/errors/500.html", status=500)


def bad_request(request, exception=None):
    return render(request, "console/errors/400.html", status=400)


def forbidden(request, exception=None):
    return render(request, "console/errors/403.html", status=403)
