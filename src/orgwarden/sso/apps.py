from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "orgwarden.sso"
    label = "sso"
    verbose_name = "SAML single sign-on"

    def ready(self) -> None:
        from orgwarden.accounts import signin, views
        from orgwarden.orgs import hooks
        from orgwarden.sso import services, signin_steps

        hooks.account_released.append(services.saml_identities_release)

        # Before the password: a person whose domain's IdP enforces SSO never sees the password page.
        signin.register_step(signin_steps.SsoStep(), before="password")
        views.STEP_VIEWS[signin_steps.SsoStep.key] = signin_steps.sso_step_view
