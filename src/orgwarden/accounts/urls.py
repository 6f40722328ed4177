from django.urls import path

from orgwarden.accounts import views, views_two_step

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
    path("account/email", views.email_change, name="email_change"),
    path("account/email/confirm/<str:token>", views.email_change_confirm, name="email_change_confirm"),
    path("account/close", views.account_close, name="account_close"),
    path("account/sessions/<str:session_id>/end", views.session_end, name="session_end"),
    path("account/sessions/end-all", views.sessions_end_all, name="sessions_end_all"),
    path("account/two-step/", views_two_step.settings_page, name="two_step"),
    path("account/two-step/setup", views_two_step.setup, name="two_step_setup"),
    path("account/two-step/disable", views_two_step.disable, name="two_step_disable"),
    path("account/two-step/recovery-codes", views_two_step.regenerate_codes, name="two_step_regenerate"),
]
