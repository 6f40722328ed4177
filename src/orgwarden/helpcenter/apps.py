from django.apps import AppConfig


class HelpcenterConfig(AppConfig):
    name = "orgwarden.helpcenter"
    label = "helpcenter"
    verbose_name = "Help centers"
