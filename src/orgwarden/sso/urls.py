from django.urls import path

from orgwarden.sso import views

app_name = "sso"

urlpatterns = [
    path("<str:connection_id>", views.metadata, name="entity"),
    path("<str:connection_id>/metadata", views.metadata, name="metadata"),
    path("<str:connection_id>/acs", views.acs, name="acs"),
    path("<str:connection_id>/login", views.login, name="login"),
]
