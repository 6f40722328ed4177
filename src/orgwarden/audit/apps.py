from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "orgwarden.audit"
    label = "audit"
    verbose_name = "Audit log"
