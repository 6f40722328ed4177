from django.urls import path

from orgwarden.tokens import views

app_name = "tokens"

urlpatterns = [
    path("account/api-tokens/", views.account_tokens, name="account_tokens"),
    path("account/api-tokens/<str:token_id>/revoke", views.account_token_revoke, name="account_token_revoke"),
    path("oauth2/introspect", views.introspect, name="introspect"),
]
