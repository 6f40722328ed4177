"""The password step spends the same work on every wrong answer, whoever the email belongs to.

Response time is the password hash's time (tens of milliseconds with the production parameters):
a branch that hashes twice answers in twice the time, which anyone can measure. The hasher below
is the test suite's own, counting each hash it computes (``encode``: the dummy hash for an unknown
email; ``verify``: checking a stored one).
"""

from __future__ import annotations

import pytest
from django.test import Client

from orgwarden.accounts.hashers import FastArgon2idHasherForTests
from orgwarden.accounts.models import Account
from orgwarden.accounts.tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
WRONG = "not the password at all"


class CountingHasher(FastArgon2idHasherForTests):
    hashes = 0

    def encode(self, password, salt):
        CountingHasher.hashes += 1
        return super().encode(password, salt)

    def verify(self, password, encoded):
        CountingHasher.hashes += 1
        return super().verify(password, encoded)


@pytest.fixture
def counted(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    return CountingHasher


def _hashes_for_a_wrong_password(counted, email: str) -> int:
    client = Client()
    assert client.post("/login", {"email": email})["Location"] == "/login/step/password"
    counted.hashes = 0
    response = client.post("/login/step/password", {"password": WRONG})
    assert response.status_code == 400 and b"Incorrect email or password." in response.content
    return counted.hashes


@pytest.mark.parametrize("status", [Account.Status.ACTIVE, Account.Status.DEACTIVATED, Account.Status.CLOSED])
def test_a_wrong_password_costs_one_hash_whatever_the_account(counted, status):
    account = AccountFactory(status=status)
    assert _hashes_for_a_wrong_password(counted, account.email) == 1


def test_an_unknown_email_costs_one_hash_too(counted):
    assert _hashes_for_a_wrong_password(counted, "nobody-here@example.com") == 1


def test_the_right_password_of_a_deactivated_account_still_says_why(counted, password):
    account = AccountFactory(status=Account.Status.DEACTIVATED)
    client = Client()
    client.post("/login", {"email": account.email})
    counted.hashes = 0
    response = client.post("/login/step/password", {"password": password})
    assert response.status_code == 403 and b"Your account is deactivated" in response.content
    assert counted.hashes == 1
    assert client.get("/account/").status_code == 302
