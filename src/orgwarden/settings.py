"""Django settings for orgwarden, built from ``orgwarden.config`` (environment variables)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from orgwarden import config, logs

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = config.secret_key()
DEBUG = config.env_bool("ORGWARDEN_DEBUG", False)
BASE_URL = config.base_url()
_base = urlsplit(BASE_URL)
HTTPS = _base.scheme == "https"

ALLOWED_HOSTS = [
    host.strip()
    for host in config.env("ORGWARDEN_ALLOWED_HOSTS", f"{_base.hostname},localhost,127.0.0.1").split(",")
    if host.strip()
]
if not ALLOWED_HOSTS:
    raise config.ConfigError("ORGWARDEN_ALLOWED_HOSTS names no host: every request would be refused")
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
if config.env_bool("ORGWARDEN_BEHIND_PROXY", False):
    # Only behind a proxy that sets these headers itself; otherwise clients could forge them.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# How many proxies in front append to X-Forwarded-For (0: don't trust it; see audit.middleware.client_ip)
TRUST_X_FORWARDED_FOR = (
    config.env_int("ORGWARDEN_PROXY_HOPS", 1, minimum=1, maximum=10)
    if config.env_bool("ORGWARDEN_BEHIND_PROXY", False)
    else 0
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "orgwarden.audit",
    "orgwarden.accounts",
    "orgwarden.orgs",
    "orgwarden.tokens",
    "oauth2_provider",
    "orgwarden.oidc",
    "orgwarden.policies",
    "orgwarden.sso",
    "orgwarden.scim",
    "orgwarden.helpcenter",
    "orgwarden.support",
    "orgwarden.billing",
    "orgwarden.insights",
    "orgwarden.console",
    "orgwarden.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "orgwarden.console.middleware.ContentSecurityPolicyMiddleware",
    "orgwarden.console.middleware.RejectNulInPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "orgwarden.audit.middleware.RequestContextMiddleware",
    # Before SessionActivityMiddleware: it reads the last activity time that one refreshes.
    "orgwarden.policies.middleware.SessionLimitMiddleware",
    "orgwarden.accounts.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "orgwarden.api.middleware.RateLimitHeadersMiddleware",
]
# The short chain of ``wsgi.MACHINE_ENDPOINTS`` and ``wsgi.MACHINE_PREFIXES`` (server-to-server, no
# cookies): the middleware above that secures every answer (headers, HTTPS redirect, the Host check,
# NUL in the path) and gives audit events the caller's address, in order.
MACHINE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "orgwarden.console.middleware.ContentSecurityPolicyMiddleware",
    "orgwarden.console.middleware.RejectNulInPathMiddleware",
    "django.middleware.common.CommonMiddleware",
    "orgwarden.audit.middleware.RequestContextMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "orgwarden.urls"
WSGI_APPLICATION = "orgwarden.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orgwarden.console.context_processors.installation",
            ],
        },
    }
]

# --- Database ------------------------------------------------------------------------------------
DATABASE_URL = config.database_url()
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        config.sqlite_file_create(Path(DATABASES["default"]["NAME"]))  # 0600, before SQLite makes it 0644
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock when a
        # transaction starts, so two writers queue on busy_timeout instead of failing with
        # "database is locked" half-way through.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# orgwarden.db.prepared_cursor() prepares the hot paths' fixed statements on PostgreSQL; the
# threshold only enables that (Django's own cursors bind on the client and never prepare).
DATABASE_PREPARED_STATEMENTS = config.env_bool("ORGWARDEN_DATABASE_PREPARED_STATEMENTS", True)


def database_settings(database: dict) -> dict:
    """``database`` on PostgreSQL: orgwarden's backend (Django's, health-checking a connection only
    after it idled: ``orgwarden.db.postgresql``) and psycopg's ``prepare_threshold`` when prepared
    statements are on."""
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["ENGINE"] = "orgwarden.db.postgresql"
        if DATABASE_PREPARED_STATEMENTS:
            database.setdefault("OPTIONS", {})["prepare_threshold"] = 5
    return database


database_settings(DATABASES["default"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: shared by every process (database by default, Redis when configured) ---------------
REDIS_URL = config.env("ORGWARDEN_REDIS_URL")
_redis_scheme, _found, _rest = REDIS_URL.partition("://")
if REDIS_URL and (not _found or _redis_scheme.lower() not in ("redis", "rediss", "unix")):
    raise config.ConfigError(  # the scheme only: the URL may hold a password
        "ORGWARDEN_REDIS_URL must be redis://host:6379/0 (rediss:// over TLS, unix:///path for a socket), "
        f"not {f'a {_redis_scheme}:// URL' if _found else 'a value without a scheme'}"
    )
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "orgwarden_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Accounts, passwords, sessions -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Account"
AUTHENTICATION_BACKENDS = ["orgwarden.accounts.backends.AccountBackend"]
PASSWORD_HASHERS = ["orgwarden.accounts.hashers.Argon2idHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "display_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {
        "NAME": "orgwarden.accounts.validators.MaximumLengthValidator",
        "OPTIONS": {"max_length": 100},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"  # the oidc app's SignInTime refers to it
# Product sign-in (OpenID Connect, django-oauth-toolkit). Signing keys come from the database
# (orgwarden.oidc.keys), not from here. Product sites sign in with the authorization code + PKCE.
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "PKCE_REQUIRED": True,
    # S256 only: "plain" (also what an omitted method means) hands the verifier to whoever reads the
    # authorization request (RFC 9700 §2.1.1).
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "OAUTH2_VALIDATOR_CLASS": "orgwarden.oidc.processors.validator.OrgwardenValidator",
    "SCOPES": {"openid": "Sign you in", "profile": "Your name", "email": "Your email address"},
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    # Access and refresh tokens are stored as their SHA-256 only (``token_checksum``; the ``token``
    # column stays empty): the table, or a backup of it, holds no token that works. Incompatible
    # with a refresh-token grace period, which must hand back the previous token in plaintext.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
}
LOGIN_REDIRECT_URL = "console:home"

SESSION_ENGINE = "orgwarden.accounts.session_store"
SESSION_COOKIE_NAME = "orgwarden_session"
SESSION_COOKIE_AGE = 30 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "orgwarden.console.views.errors.csrf_failure"

SIGNUP_ENABLED = config.env_bool("ORGWARDEN_SIGNUP_ENABLED", True)
# Idle and absolute session limits of authentication policies (policies.middleware); off only to measure.
SESSION_LIMITS_ENABLED = config.env_bool("ORGWARDEN_SESSION_LIMITS", True)
SIGNIN_THROTTLE_PER_MINUTE = config.env_int("ORGWARDEN_SIGNIN_THROTTLE_PER_MINUTE", 10, minimum=1)
# First invitations (people new to the org) one org may send an hour, all its admins and API keys
# together; why these numbers, and why per org: orgs.services.invitation_limits.
FIRST_INVITATIONS_PER_HOUR = config.env_int(
    "ORGWARDEN_FIRST_INVITATIONS_PER_HOUR", 5000, minimum=50, maximum=100_000
)
INSTALLATION_NAME = config.env("ORGWARDEN_INSTALLATION_NAME", "orgwarden")

API_RATE_LIMIT_PER_MINUTE = config.env_int("ORGWARDEN_API_RATE_LIMIT_PER_MINUTE", 600, minimum=1)
# Tokens' last use and product activity seen by introspection are written behind, in batches, at
# most this many seconds later (tokens.usage); 0 writes them on every call.
# How often `orgwarden serve`'s background refresh brings the insights rollups up to date (0: never;
# the charts then refresh them themselves when they are more than five minutes old).
INSIGHTS_REFRESH_SECONDS = config.env_int("ORGWARDEN_INSIGHTS_REFRESH_SECONDS", 60, minimum=0, maximum=3600)
USAGE_FLUSH_SECONDS = config.env_int("ORGWARDEN_USAGE_FLUSH_SECONDS", 10, minimum=0, maximum=3600)
# Days of audit events `orgwarden audit prune` (a daily job) keeps; None keeps them all (config.py).
AUDIT_RETENTION_DAYS = config.audit_retention_days()

# --- Domain verification -------------------------------------------------------------------------
DNS_NAMESERVERS = config.nameservers()
DNS_TIMEOUT = config.env_int("ORGWARDEN_DNS_TIMEOUT", 5, minimum=1, maximum=60)
DOMAIN_HTTPS_PORT = config.env_int("ORGWARDEN_DOMAIN_HTTPS_PORT", 443, minimum=1, maximum=65535)
HTTPS_CA_BUNDLE = config.env("ORGWARDEN_HTTPS_CA_BUNDLE")
if HTTPS_CA_BUNDLE and not Path(HTTPS_CA_BUNDLE).is_file():
    raise config.ConfigError(f"ORGWARDEN_HTTPS_CA_BUNDLE: no such file: {HTTPS_CA_BUNDLE}")
DOMAIN_PROOF_ALLOW_PRIVATE = config.env_bool("ORGWARDEN_DOMAIN_PROOF_ALLOW_PRIVATE", False)
DOMAIN_PROOF_GRACE_DAYS = config.env_int("ORGWARDEN_DOMAIN_PROOF_GRACE_DAYS", 7, minimum=0, maximum=90)

# --- Support requests (support/sla.py) -----------------------------------------------------------
SUPPORT_TIME_ZONE = config.env("ORGWARDEN_SUPPORT_TIME_ZONE", "UTC")
try:
    import zoneinfo as _zoneinfo

    _zoneinfo.ZoneInfo(SUPPORT_TIME_ZONE)
except (ValueError, _zoneinfo.ZoneInfoNotFoundError) as _exc:
    raise config.ConfigError(
        f"ORGWARDEN_SUPPORT_TIME_ZONE must be a time zone like Europe/Paris, not {SUPPORT_TIME_ZONE!r}"
    ) from _exc
try:
    from orgwarden.support.sla import parse_holidays as _parse_holidays

    SUPPORT_HOLIDAYS = _parse_holidays(config.env("ORGWARDEN_SUPPORT_HOLIDAYS"))
except ValueError as _exc:
    raise config.ConfigError(f"ORGWARDEN_SUPPORT_HOLIDAYS: {_exc}") from _exc
# Who is emailed when an org admin raises or adds to a request; empty: every active staff account.
SUPPORT_EMAILS = [e.strip() for e in config.env("ORGWARDEN_SUPPORT_EMAIL").split(",") if e.strip()]
for _email in SUPPORT_EMAILS:
    from django.core.exceptions import ValidationError as _ValidationError
    from django.core.validators import validate_email as _validate_email

    try:
        _validate_email(_email)
    except _ValidationError as _exc:
        raise config.ConfigError(
            f"ORGWARDEN_SUPPORT_EMAIL must be comma-separated email addresses, not {_email!r}"
        ) from _exc

# --- Subscription and billing (billing/pricing.py) --------------------------------------------------
BILLING_PAYMENT_REQUIRED = config.env_bool("ORGWARDEN_BILLING_PAYMENT_REQUIRED", False)
BILLING_CURRENCY = config.env("ORGWARDEN_BILLING_CURRENCY", "USD")
try:
    from orgwarden.billing.pricing import parse_money as _parse_money
    from orgwarden.billing.pricing import parse_tiers as _parse_tiers

    BILLING_TIERS = _parse_tiers(config.env("ORGWARDEN_BILLING_TIERS", "250:4.00,1000:3.00,*:2.00"))
    BILLING_MINIMUM = _parse_money(config.env("ORGWARDEN_BILLING_MINIMUM", "40.00"))
except ValueError as _exc:
    raise config.ConfigError(f"ORGWARDEN_BILLING_TIERS / ORGWARDEN_BILLING_MINIMUM: {_exc}") from _exc

# --- Email ------------------------------------------------------------------------------------------
_email_backend = config.env("ORGWARDEN_EMAIL_BACKEND", "console").lower()
EMAIL_BACKEND = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}.get(_email_backend)
if EMAIL_BACKEND is None:
    raise config.ConfigError("ORGWARDEN_EMAIL_BACKEND must be console, file or smtp")
EMAIL_FILE_PATH = config.env("ORGWARDEN_EMAIL_FILE_PATH") or str(config.data_dir() / "emails")
EMAIL_HOST = config.env("ORGWARDEN_EMAIL_HOST", "localhost")
EMAIL_PORT = config.env_int("ORGWARDEN_EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = config.env("ORGWARDEN_EMAIL_USER")
EMAIL_HOST_PASSWORD = config.env("ORGWARDEN_EMAIL_PASSWORD")
EMAIL_USE_TLS = config.env_bool("ORGWARDEN_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
# How long an email the mail server could not take for now (down, timed out, 4xx) is tried again,
# from its first failure; in memory only (accounts/emails.py says why and what a restart loses).
EMAIL_RETRY_SECONDS = 60 * config.env_int("ORGWARDEN_EMAIL_RETRY_MINUTES", 10, minimum=0, maximum=60)
DEFAULT_FROM_EMAIL = config.env("ORGWARDEN_EMAIL_FROM", "orgwarden <no-reply@localhost>")
try:  # a bad sender is refused here, not by every email's send (each logged as failed)
    from email.utils import parseaddr as _parseaddr

    from django.core.exceptions import ValidationError as _ValidationError
    from django.core.validators import validate_email as _validate_email

    _validate_email(_parseaddr(DEFAULT_FROM_EMAIL)[1])
except _ValidationError as _exc:
    raise config.ConfigError(
        "ORGWARDEN_EMAIL_FROM must be an address like 'orgwarden <no-reply@example.com>', "
        f"not {DEFAULT_FROM_EMAIL!r}"
    ) from _exc

# --- Security headers ----------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- Static files (served by WhiteNoise straight from the package; no collectstatic step) -----
STATIC_URL = "/static/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_MAX_AGE = 3600

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOG_FORMAT = config.log_format()
LOGGING = logs.logging_config(LOG_FORMAT, config.log_level())
