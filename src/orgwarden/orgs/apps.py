from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgwarden.orgs"
    label = "orgs"
    verbose_name = "Organizations"

    def ready(self) -> None:
        from orgwarden.accounts import hooks
        from orgwarden.orgs.services import users

        # A person whose managed account was deactivated learns, at sign-in, which org did it and why.
        if users.deactivation_notice not in hooks.deactivation_notice:
            hooks.deactivation_notice.append(users.deactivation_notice)
        self._ready_domains()
        self._ready_audit()

    def _ready_audit(self) -> None:
        """Account-level events of a managed account belong to its managing org's log."""
        from orgwarden.audit import services as audit_services
        from orgwarden.orgs.services import claims

        if claims.managing_org_of_event not in audit_services.org_resolvers:
            audit_services.org_resolvers.append(claims.managing_org_of_event)

    def _ready_domains(self) -> None:
        """Domains and claiming: new accounts on automatic domains, the managed person's side."""
        from orgwarden.accounts import hooks, signin, views
        from orgwarden.orgs import signin_steps
        from orgwarden.orgs.services import claims
        from orgwarden.orgs.services import orgs as orgs_services

        for hook_list, hook in (
            (hooks.account_created, claims.account_created_claim),
            (hooks.email_change_refusal, claims.email_change_refusal),
            (hooks.profile_change_refusal, claims.profile_change_refusal),
            (hooks.close_refusal, claims.close_refusal),
            (hooks.close_refusal, orgs_services.close_refusal_last_admin),
            (hooks.account_email_changed, claims.account_email_changed),
        ):
            if hook not in hook_list:
                hook_list.append(hook)
        # After two-step verification when the flow has it: the notice is for the account's owner.
        anchor = "two_step" if any(step.key == "two_step" for step in signin.STEPS) else "password"
        signin.register_step(signin_steps.ManagedNoticeStep(), after=anchor)
        views.STEP_VIEWS[signin_steps.ManagedNoticeStep.key] = signin_steps.managed_notice_view
