"""``/.well-known/openid-configuration`` at the root (so the issuer is the installation's origin)
and the OIDC endpoints under ``/oauth2/``. DOT reverses these names in its own namespace."""

from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from orgwarden.oidc.views import (
    AuthorizeView,
    DiscoveryView,
    JwksInfoView,
    LogoutView,
    RevokeTokenView,
    TokenView,
    UserInfoView,
    with_keys,
)

app_name = "oauth2_provider"

urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration/?$",
        with_keys(DiscoveryView.as_view()),
        name="oidc-connect-discovery-info",
    ),
    path("oauth2/authorize/", with_keys(csrf_exempt(AuthorizeView.as_view())), name="authorize"),
    path("oauth2/token/", with_keys(TokenView.as_view()), name="token"),
    path("oauth2/revoke_token/", with_keys(RevokeTokenView.as_view()), name="revoke-token"),
    path("oauth2/jwks.json", with_keys(JwksInfoView.as_view()), name="jwks-info"),
    path("oauth2/userinfo/", with_keys(UserInfoView.as_view()), name="user-info"),
    path("oauth2/logout/", with_keys(LogoutView.as_view()), name="rp-initiated-logout"),
]
