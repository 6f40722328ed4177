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
