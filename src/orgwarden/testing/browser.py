"""What browser tests do again and again, done one way."""

from __future__ import annotations


def sign_in(page, email: str, password: str) -> None:
    """Sign ``page`` in through the email-first flow as a person would: email, Continue, password,
    Sign in (``page`` is a Playwright page on the live server)."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
