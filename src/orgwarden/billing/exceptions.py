"""Named errors of the subscription."""


class BillingError(Exception):
    message = "This change is not allowed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class NoVerifiedDomain(BillingError):
    message = (
        "Verify a domain and claim its accounts first: the security subscription applies to managed accounts."
    )


class TrialAlreadyStarted(BillingError):
    message = "This organization has already started its free trial."


class NoSubscription(BillingError):
    message = "This organization has not started its free trial: an org admin starts it under Billing."


class NotOperator(BillingError):
    message = "Only the operators of this installation can change a subscription's status."


class AlreadyInStatus(BillingError):
    def __init__(self, status_label: str) -> None:
        super().__init__(f"The subscription is already {status_label.lower()}.")
