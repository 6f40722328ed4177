from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "orgwarden.policies"
    label = "policies"
    verbose_name = "Authentication policies"

    def ready(self) -> None:
        """Wire the policies into the domains below: explicit lists, registered once."""
        from orgwarden.accounts import hooks, signin, views
        from orgwarden.orgs import hooks as orgs_hooks
        from orgwarden.policies import passwords, selectors, services, signin_steps

        for hook_list, hook in (
            (orgs_hooks.directory_created, services.default_policy_create),
            (hooks.two_step_required, selectors.two_step_requirement),
            (hooks.password_rules, passwords.policy_password_failures),
            (hooks.signed_in, services.break_glass_signed_in),
        ):
            if hook not in hook_list:
                hook_list.append(hook)
        # Enrolment comes before the code step, which then has nothing to ask (the flow has "totp").
        signin.register_step(signin_steps.TwoStepEnrolStep(), after="password")
        signin.register_step(signin_steps.PasswordExpiredStep(), after="two_step")
        views.STEP_VIEWS[signin_steps.TwoStepEnrolStep.key] = signin_steps.two_step_enrol_view
        views.STEP_VIEWS[signin_steps.PasswordExpiredStep.key] = signin_steps.password_expired_view
