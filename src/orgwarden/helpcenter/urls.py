from django.urls import path

from orgwarden.helpcenter import views

app_name = "helpcenter"

urlpatterns = [
    path("<str:site_id>/", views.portal, name="portal"),
    path("<str:site_id>/login", views.login, name="login"),
    path("<str:site_id>/signup", views.signup, name="signup"),
    path("<str:site_id>/logout", views.logout, name="logout"),
    path("<str:site_id>/reset", views.reset, name="reset"),
    path("<str:site_id>/reset/<str:token>", views.reset_confirm, name="reset_confirm"),
    path("<str:site_id>/saml", views.saml_metadata, name="saml_entity"),
    path("<str:site_id>/saml/metadata", views.saml_metadata, name="saml_metadata"),
    path("<str:site_id>/saml/login", views.saml_login, name="saml_login"),
    path("<str:site_id>/saml/acs", views.saml_acs, name="saml_acs"),
]
