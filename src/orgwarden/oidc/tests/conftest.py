import pytest

from orgwarden.tokens.tests.conftest import (  # noqa: F401 — shared fixtures of product sites
    Site,
    default_policy,
    grant,
    manage,
    one_event,
    org,
    site,
)


@pytest.fixture(autouse=True)
def fresh_signing_keys():
    """Each test's database starts without keys: don't sign with a key cached from another test."""
    from orgwarden.oidc import keys

    keys.forget()
    yield
    keys.forget()
