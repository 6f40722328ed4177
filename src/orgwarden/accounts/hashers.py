"""argon2id password hashing with parameters chosen for this product.

Django's ``Argon2PasswordHasher`` already uses argon2id; we set its cost. The parameters are at
least as strong as Keycloak's Argon2 default (5 iterations, 7 MiB) on both axes that matter for an
attacker with GPUs — memory per guess and total memory-passes — and follow OWASP's guidance
(m ≥ 19 MiB): 3 passes over 32 MiB, one lane (one core per sign-in, so a 2-core machine serves two
at a time). ``bench/signin.py`` measures what they cost; a stored hash made with other parameters
is upgraded transparently at the next sign-in (``must_update``).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 3
    memory_cost = 32 * 1024  # KiB
    parallelism = 1


class FastArgon2idHasherForTests(Argon2PasswordHasher):
    """The same algorithm at minimal cost, so the suite does not spend its time hashing."""

    time_cost = 1
    memory_cost = 64
    parallelism = 1
