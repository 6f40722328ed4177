import pytest

from orgwarden.oidc.services import site_redirect_uris_set
from orgwarden.oidc.tests.relying_party import CALLBACK
from orgwarden.sso.tests.conftest import (  # noqa: F401 — an IdP connection on a verified domain
    connection,
    domain,
    idp,
    idp_keys,
)
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


@pytest.fixture
def product(org, org_admin, site):  # noqa: F811 — the imported fixtures
    """The Jira site, its sign-ins received at ``CALLBACK``."""
    site_redirect_uris_set(
        org=org, actor=org_admin.account, site_id=site.site.site_id, redirect_uris=CALLBACK
    )
    return site
