"""The production password hasher's parameters are pinned: weakening them must fail a test."""

from django.contrib.auth.hashers import make_password

from orgwarden.accounts.hashers import Argon2idHasher


def test_production_hasher_parameters_are_pinned():
    assert Argon2idHasher.time_cost == 3
    assert Argon2idHasher.memory_cost == 32 * 1024  # KiB, i.e. 32 MiB
    assert Argon2idHasher.parallelism == 1
    assert Argon2idHasher.algorithm == "argon2"


def test_production_hasher_makes_argon2id_hashes_with_those_parameters():
    hasher = Argon2idHasher()
    encoded = make_password("correct horse battery staple", hasher=hasher)
    assert encoded.startswith("argon2$argon2id$")
    assert "m=32768,t=3,p=1" in encoded
    assert hasher.verify("correct horse battery staple", encoded)
    assert not hasher.verify("wrong", encoded)


def test_production_settings_use_the_production_hasher():
    from orgwarden import settings as production

    assert production.PASSWORD_HASHERS == ["orgwarden.accounts.hashers.Argon2idHasher"]
