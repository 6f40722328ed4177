from django.conf import settings


def installation(request):
    return {"installation_name": settings.INSTALLATION_NAME}
