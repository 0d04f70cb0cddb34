"""Settings for Z-Image Playground, all read from the environment (the README lists every variable)."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from lib.db import check_pooled_connection
from playground.embedded_postgres import EmbeddedPostgres

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var")).resolve()


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError as err:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from err


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError as err:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from err


def envdecimal(name: str, default: str) -> Decimal:
    value = os.environ.get(name, "").strip() or default
    try:
        amount = Decimal(value)
    except InvalidOperation as err:
        raise ImproperlyConfigured(f"{name} must be an amount such as 2.50, not {value!r}") from err
    if not amount.is_finite() or amount < 0:
        raise ImproperlyConfigured(f"{name} must be an amount of 0 or more, not {value!r}")
    return amount


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for a local instance).")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 (DEBUG only)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "Set ALLOWED_HOSTS to the host names this instance answers to (comma-separated)."
    )
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

# Behind a TLS-terminating proxy set HTTPS=true: secure cookies, HSTS, and redirects to https.
HTTPS = envbool("HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = HTTPS and envbool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "procrastinate.contrib.django",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "generations",
    "accounts",
    "judging",
    "reviews",
]

MIDDLEWARE = [
    "playground.health.health_check_middleware",
    "lib.request_log.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "playground.static_files.StaticFilesMiddleware",
    "playground.untrusted_input.untrusted_input_middleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "playground.urls"
WSGI_APPLICATION = "playground.wsgi.application"
# Served under ASGI (gunicorn with uvicorn workers): the API and the live updates wait without holding a thread.
ASGI_APPLICATION = "playground.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generations.context_processors.provider",
                "reviews.context_processors.inbox",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES: dict[str, Any] = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    # Started by the first connection, not here: commands that need no database (collectstatic) start nothing.
    DATABASES = {"default": EmbeddedPostgres(VAR_DIR / "pgdata").database_settings()}
# A pool per process (psycopg_pool): PostgreSQL forks a process per new connection, and requests hold one only
# while they run. Each connection is checked as it is handed out, and one found dead has the pool replace its idle
# ones (lib/db.py), so a restarted database costs no request.
# A pool that cannot connect tries again after 1, 2, 4, 8 … s; giving up after a few seconds instead starts a
# fresh try at the next request, so that a database back after an outage is used at once (with the default of
# five minutes, pages waited up to 46 s after a restart for the pool's next try, and timed out).
DATABASE_RECONNECT_TIMEOUT_S = 5.0
DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
    "min_size": 2,
    "max_size": envint("DATABASE_POOL_SIZE", 20),
    "timeout": 10,
    "check": check_pooled_connection,
    "reconnect_timeout": DATABASE_RECONNECT_TIMEOUT_S,
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generations:home"
LOGOUT_REDIRECT_URL = "generations:gallery"
# Generating (and favouriting, deleting, tokens) needs a signed-in user, unless this is off (`make run` turns it
# off for a local instance; an open instance lets each browser delete only what it made).
REQUIRE_LOGIN = envbool("REQUIRE_LOGIN", True)

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair is refused for AXES_COOLOFF_MINUTES, counted in PostgreSQL so that every process sees the same
# numbers. Keyed on the pair, so nobody can lock a colleague out from elsewhere by guessing their name.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, plus what a role grants (accounts/models.py: members and staff may generate).
    "accounts.backends.RoleBackend",
]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "playground.sign_in.locked_out"
AXES_USERNAME_CALLABLE = "playground.sign_in.attempted_username"

# Signing in with the team's identity provider (OpenID Connect, through django-allauth), when OIDC_ISSUER is set.
# playground/sso.py turns these into allauth's provider; the README explains each with an example.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip().removesuffix("/.well-known/openid-configuration")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_NAME = os.environ.get("OIDC_NAME", "") or "your identity provider"
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile").split()
# Who may enter: people whose verified e-mail is at one of these domains, and (when set too) in one of these groups.
OIDC_ALLOWED_DOMAINS = [domain.lower().lstrip("@") for domain in envlist("OIDC_ALLOWED_DOMAINS")]
OIDC_ALLOWED_GROUPS = envlist("OIDC_ALLOWED_GROUPS")
# Roles from groups, recomputed at every sign-in; when neither is set, staff give roles on the people page.
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "") or "groups"
OIDC_ADMIN_GROUPS = envlist("OIDC_ADMIN_GROUPS")
OIDC_MEMBER_GROUPS = envlist("OIDC_MEMBER_GROUPS")
# Only the identity provider: the password form is refused to all but superusers (the break-glass account).
OIDC_ONLY = envbool("OIDC_ONLY", False)
if OIDC_ISSUER and not OIDC_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID (and OIDC_CLIENT_SECRET) too.")
if OIDC_ONLY and not OIDC_ISSUER:
    raise ImproperlyConfigured("OIDC_ONLY=true needs OIDC_ISSUER: nobody but superusers could sign in.")
# How long an invite link for a local account stays valid.
INVITE_VALID_DAYS = envint("INVITE_VALID_DAYS", 7)

# django-allauth serves the identity provider's sign-in only (playground/urls.py mounts no account pages:
# no sign-up, no e-mail, no password reset). A verified e-mail at an allowed domain finds an existing local
# account; anything else makes a new one (allauth then ends the local password, so only the IdP opens it).
ACCOUNT_ADAPTER = "playground.sso.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "playground.sso.SocialAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False

# No inline script or style anywhere: htmx gets its nonce through {% htmx_script %}.
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if OIDC_ISSUER:
    # Signing in and out are forms answered with a redirect to the identity provider, which form-action governs.
    _issuer = urlsplit(OIDC_ISSUER)
    SECURE_CSP["form-action"].append(f"{_issuer.scheme}://{_issuer.netloc}")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development (`make run`) static files come straight from the app folders, with no collectstatic.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "lib.storage.AtomicFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Images in S3-compatible object storage when a bucket is named, local files otherwise. Either way they are
# served through the playground with long cache headers, so share links never depend on the bucket's URLs.
S3_BUCKET = os.environ.get("S3_BUCKET", "")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("S3_REGION") or None,
            # Unset: boto3 looks for credentials itself (AWS_* variables, instance roles).
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            # Names are content hashes: a name that exists already holds the very same bytes.
            "file_overwrite": True,
            "default_acl": None,
        },
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "lib.request_log.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "lib.request_log.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # A line per job start and end; the playground logs each generation's outcome itself.
        "procrastinate": {"level": os.environ.get("PROCRASTINATE_LOG_LEVEL", "WARNING")},
        # A line per sign-in and its bookkeeping; lockouts are warnings and still show.
        "axes": {"level": "WARNING"},
    },
}

# The provider. Without a key the playground runs on its offline demo provider and says so on every page.
ZIMAGE_API_KEY = os.environ.get("ZIMAGE_API_KEY", "")
# The provider's public endpoint: the only base URL that pages show ("Copy as code"); any other may be a gateway
# whose URL carries credentials.
ZIMAGE_PUBLIC_BASE_URL = "https://open.dieyuyun.com/v1"
ZIMAGE_BASE_URL = os.environ.get("ZIMAGE_BASE_URL", ZIMAGE_PUBLIC_BASE_URL).rstrip("/")
ZIMAGE_MODEL = os.environ.get("ZIMAGE_MODEL", "z-image-turbo")
ZIMAGE_RESPONSE_FORMAT = os.environ.get("ZIMAGE_RESPONSE_FORMAT", "url")
if ZIMAGE_RESPONSE_FORMAT not in {"url", "b64_json"}:
    raise ImproperlyConfigured("ZIMAGE_RESPONSE_FORMAT must be url or b64_json")
# Everything about one generation, retries included, must finish within this many seconds.
ZIMAGE_DEADLINE_S = envfloat("ZIMAGE_DEADLINE_S", 180.0)
ZIMAGE_CONNECT_TIMEOUT_S = envfloat("ZIMAGE_CONNECT_TIMEOUT_S", 10.0)
ZIMAGE_MAX_ATTEMPTS = envint("ZIMAGE_MAX_ATTEMPTS", 4)
ZIMAGE_MAX_IMAGE_BYTES = envint("ZIMAGE_MAX_IMAGE_BYTES", 40 * 1024 * 1024)
ZIMAGE_DEMO_LATENCY_S = envfloat("ZIMAGE_DEMO_LATENCY_S", 1.5)
# Other image models the same account serves over the same protocol, and the parameters each accepts, e.g.
# "qwen-image-plus:prompt_extend|seed|negative_prompt|watermark": a batch may then compare models. Parameters a
# model does not list are never sent to it.
EXTRA_MODELS: dict[str, frozenset[str]] = {}
for _entry in envlist("EXTRA_MODELS"):
    _name, _, _accepts = _entry.partition(":")
    EXTRA_MODELS[_name.strip()] = frozenset(
        option.strip() for option in _accepts.split("|") if option.strip()
    )

# The job engine (procrastinate, in the same PostgreSQL) runs generations on worker processes (bin/worker).
# Workers x WORKER_CONCURRENCY is the cap on provider calls in flight; more waits in the queue.
GENERATION_QUEUE = "generations"
PROCRASTINATE_WORKER_DEFAULTS = {
    "queues": [GENERATION_QUEUE],
    "concurrency": envint("WORKER_CONCURRENCY", 100),
    # On SIGTERM (a deploy) running generations get this long to finish; what is left then is interrupted.
    "shutdown_graceful_timeout": envfloat("WORKER_SHUTDOWN_TIMEOUT_S", ZIMAGE_DEADLINE_S + 10),
    # A generation's row is its record; the engine keeps only the jobs that did not succeed.
    "delete_jobs": "successful",
    "update_heartbeat_interval": envfloat("WORKER_HEARTBEAT_S", 10.0),
}
# A worker whose last heartbeat is older than this is dead: its running generations end interrupted.
WORKER_STALLED_AFTER_S = envfloat("WORKER_STALLED_AFTER_S", 30.0)
# While the database is away (a restart, a failover), a worker keeps what it made and tries again for this long
# before it gives up and exits with status 1.
WORKER_DATABASE_OUTAGE_S = envfloat("WORKER_DATABASE_OUTAGE_S", 300.0)
PROCRASTINATE_WORKER_DEFAULTS["stalled_worker_timeout"] = WORKER_STALLED_AFTER_S
# How long the API waits for a generation, queue included, before answering without it.
API_WAIT_S = envfloat("API_WAIT_S", ZIMAGE_DEADLINE_S + 120)

# The provider account's limits: the pace of the whole cluster never passes them (generations/pacing.py). Below
# them it learns the real ones: it drops at each 429 (and takes the per-minute figure the provider states in
# X-RateLimit-Limit), holds until the provider's reset, and climbs back slowly. 5 at once is the most the
# provider's Rate Limits page allows any image model (2 to 5; z-image-turbo's row is not published); 120 a minute
# is the upstream Alibaba service's limit.
PROVIDER_MAX_CONCURRENT = envint("PROVIDER_MAX_CONCURRENT", 5)
PROVIDER_MAX_PER_MINUTE = envint("PROVIDER_MAX_PER_MINUTE", 120)
if PROVIDER_MAX_CONCURRENT < 1 or PROVIDER_MAX_PER_MINUTE < 1:
    raise ImproperlyConfigured("PROVIDER_MAX_CONCURRENT and PROVIDER_MAX_PER_MINUTE must be 1 or more")
# A generation the provider's rate limit keeps sending back (429: nothing billed) waits this long in all before it
# fails: a 100-image batch at 10 a minute (the slowest image model's limit) takes 10 minutes, so 30 lets a
# colleague's batch queued behind it finish too.
PROVIDER_WAIT_MAX_S = envfloat("PROVIDER_WAIT_MAX_S", 1800.0)

# Money. Prices live in the database (staff edit them in the admin, with the date they take effect), in this
# currency; the first is the upstream list price, $0.015 an image and $0.015 more with prompt extend.
PRICE_CURRENCY = os.environ.get("PRICE_CURRENCY", "USD").strip().upper()
# Budgets in that currency, checked with the other limits (0: none). A person's day and month (staff can set a
# person's own in the admin: "Person budgets"), and the whole team's month. $5 a day is 333 images at the list
# price (a 100-image batch is $1.50); $50 a month is ten such days; $500 a month is ten busy people.
BUDGET_USER_DAY = envdecimal("BUDGET_USER_DAY", "5")
BUDGET_USER_MONTH = envdecimal("BUDGET_USER_MONTH", "50")
BUDGET_TEAM_MONTH = envdecimal("BUDGET_TEAM_MONTH", "500")

# When set, /metrics (Prometheus) asks for `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Spending limits, counted in PostgreSQL so that every web and worker process sees the same numbers. Each image
# of a batch counts; a batch that would pass a limit is refused whole. On an open instance (REQUIRE_LOGIN off) a
# visitor is held to the same limits, counted by browser session and by client address together (behind a proxy
# the address is the one it forwards, from the hosts in FORWARDED_ALLOW_IPS: gunicorn.conf.py).
LIMIT_PER_MINUTE = envint("LIMIT_PER_MINUTE", 120)
LIMIT_PER_DAY = envint("LIMIT_PER_DAY", 500)
# Generations one person may have queued or running at once, so that nobody fills the queue alone.
LIMIT_QUEUED_PER_USER = envint("LIMIT_QUEUED_PER_USER", 100)
# The most images one batch may make.
BATCH_MAX_IMAGES = envint("BATCH_MAX_IMAGES", 100)
# Beyond this many queued generations in all, new ones are refused ("busy, retry shortly").
MAX_QUEUED_GENERATIONS = envint("MAX_QUEUED_GENERATIONS", 1000)

# Blind judging: guests (through a round's guest link) are limited per address, counted in PostgreSQL.
JUDGING_GUEST_VOTES_PER_MINUTE = envint("JUDGING_GUEST_VOTES_PER_MINUTE", 240)
JUDGING_GUEST_JOINS_PER_HOUR = envint("JUDGING_GUEST_JOINS_PER_HOUR", 100)
# Reviewing (the reviews app): how many images one board holds, and how many comments guests (people commenting
# through a share link without signing in) may post from one network address per hour, counted in PostgreSQL.
BOARD_MAX_IMAGES = envint("BOARD_MAX_IMAGES", 1000)
GUEST_COMMENTS_PER_HOUR = envint("GUEST_COMMENTS_PER_HOUR", 30)
