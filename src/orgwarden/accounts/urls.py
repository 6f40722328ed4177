from django.urls import path

from orgwarden.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login", views.login_email, name="login"),
    path("login/step/<slug:step>", views.signin_step, name="signin_step"),
    path("login/link/<str:token>", views.signin_link, name="signin_link"),
    path("logout", views.signout, name="logout"),
    path("signup", views.signup, name="signup"),
    path("verify-email/<str:token>", views.verify_email, name="verify_email"),
    path("password-reset", views.password_reset, name="password_reset"),
    path(
        "password-reset/<str:account_id>/<str:token>",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("account/", views.account, name="account"),
    path("account/verify-email/resend", views.resend_verification, name="resend_verification"),
    path("account/security/", views.security, name="security"),
    path("account/sessions/<str:session_key>/end", views.session_end, name="session_end"),
    path("account/sessions/end-all", views.sessions_end_all, name="sessions_end_all"),
]
