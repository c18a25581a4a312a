"""One settings object for every face of the studio (pages, CLI, workers, notebooks).

Values come from environment variables, then `.streamlit/secrets.toml` (flat keys, any case).
Leaving DATABASE_URL unset selects the embedded default: a pip-installed Postgres under
`.studio/`, objects on local disk, and secrets generated on first use. Setting it means
production, where missing or placeholder secrets refuse to start.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import tempfile
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lib.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "placeholder", "secret", "your-cookie-key-here"}
MIN_COOKIE_KEY_LENGTH = 32


class _SecretsTomlSource(PydanticBaseSettingsSource):
    """Reads flat keys from `.streamlit/secrets.toml`; keys match field names case-insensitively."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path.is_file():
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
            self._data = {k.lower(): v for k, v in raw.items() if not isinstance(v, dict)}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        names = set(self.settings_cls.model_fields)
        return {k: v for k, v in self._data.items() if k in names}


class Settings(BaseSettings):
    """Every knob of the studio; README's configuration table lists the same names."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)

    database_url: str | None = Field(default=None, description="Postgres URL; unset = embedded server")
    studio_home: Path = Field(default=PROJECT_ROOT / ".studio", description="embedded data directory")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_prefix: str = ""

    studio_cookie_key: str | None = None
    studio_cookie_name: str = "miyabi_studio_auth"
    studio_cookie_days: float = Field(default=7.0, gt=0, le=30)
    # Links to a user's images and exports (lib/accounts/links.py) stay the same for this long within a
    # session, so browsers cache them, and expire after one to two such windows.
    file_link_seconds: int = Field(default=900, ge=60, le=86_400)
    studio_admin_email: str = "admin@studio.local"
    studio_admin_password: str | None = None
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)
    login_first_lock_seconds: int = Field(default=60, ge=1)  # an account lock doubles from this up to the minutes above
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated IPs/CIDRs); empty: the TCP peer is the client.
    trusted_proxies: str = ""

    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_upload_pixels: int = Field(default=40_000_000, ge=1)
    # A base's short side (px) and long-to-short ratio: room for a 16 px face box; tall full-body
    # sprites (~1:3) pass, strips and banners do not.
    min_upload_side: int = Field(default=64, ge=16)
    max_upload_aspect: float = Field(default=4.0, ge=1.0)

    port: int = 8501

    image_backend: Literal["offline", "gemini"] = Field(default="offline", description="default backend")
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("gemini_base_url", "google_gemini_base_url")
    )
    gemini_api_version: Literal["v1", "v1beta"] = "v1beta"
    gemini_model: str = "gemini-3.1-flash-image"
    gemini_describe_model: str = "gemini-3-flash"  # "Describe with Gemini": a text model reading the picture
    gemini_image_size: Literal["512", "1K", "2K", "4K"] = "2K"
    gemini_timeout_ms: int = Field(default=180_000, ge=1000)
    gemini_max_attempts: int = Field(default=4, ge=1, le=10)
    gemini_backoff_initial_seconds: float = Field(default=2.0, ge=0)
    gemini_backoff_max_seconds: float = Field(default=60.0, ge=0)
    # USD per output image by "model:size"; overrides the built-in price table entry by entry.
    gemini_prices: dict[str, float] = Field(default_factory=dict)
    offline_base_size: tuple[int, int] = (768, 1024)
    offline_credits_per_image: int = Field(default=1, ge=0)
    # Economy batches (Gemini Batch API): credits an economy image costs, in percent of the standard price
    # (rounded up to whole credits); USD recorded for a batched image, in percent of the standard price; how
    # often a worker asks Gemini whether a batch has ended.
    economy_credit_percent: int = Field(default=50, ge=1, le=100)
    gemini_batch_price_percent: float = Field(default=50.0, gt=0, le=100)
    economy_poll_seconds: float = Field(default=60.0, gt=0)
    # A result passes review when its consistency total reaches this (calibrated in
    # notebooks/consistency_calibration.ipynb, which writes CONSISTENCY_THRESHOLD to the secrets file).
    consistency_threshold: float = Field(default=70.0, ge=0, le=100)

    redis_url: str | None = Field(default=None, description="shared rate limiter; unset = in-process")
    gemini_images_per_minute: int = Field(default=10, ge=1)
    gemini_max_in_flight: int = Field(default=4, ge=1)
    worker_concurrency: int = Field(default=6, ge=1)  # above the in-flight cap: post-processing overlaps calls
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0)
    worker_stall_seconds: float = Field(default=60.0, gt=0)

    # Stripe billing: unset key or prices = billing not configured (admins set plans by hand).
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = Field(default=None, description="point stripe-python at a local stand-in")
    stripe_price_basic: str | None = None
    stripe_price_pro: str | None = None
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)
    stripe_webhook_port: int = Field(default=8502, ge=1, le=65535)
    webhook_max_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024,
                                   description="largest body a public route reads; more gets 413")
    studio_public_url: str = "http://127.0.0.1:8501"
    # Emails when a batch ends: smtp://user:password@host:587 (STARTTLS when offered) or smtps://…; unset: no email.
    smtp_url: SecretStr | None = None
    smtp_from: str = "Miyabi Character Studio <studio@localhost>"
    notify_retry_seconds: float = Field(default=30.0, gt=0)  # first retry of an email or webhook; doubles, <= 1 h
    notify_webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    # GET /metrics: with a token, scrapers send it as a bearer token; without, only this machine may scrape.
    metrics_token: SecretStr | None = None
    metrics_window_seconds: int = Field(default=300, ge=60, le=86_400)
    # Retention (lib/ops/retention.py): raw model answers are deleted after this many days (0 keeps them);
    # `python -m lib storage lifecycle` also moves every object to S3_COLD_STORAGE_CLASS after the days below.
    raw_retention_days: int = Field(default=30, ge=0)
    s3_cold_storage_days: int = Field(default=90, ge=0)
    s3_cold_storage_class: Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER",
                                   "DEEP_ARCHIVE"] = "STANDARD_IA"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with batch, item and user ids
    # Alarms (lib/ops/alarms.py), evaluated every minute over the last ALARM_WINDOW_SECONDS.
    alarm_window_seconds: int = Field(default=300, ge=60, le=86_400)
    alarm_min_images: int = Field(default=10, ge=1)  # Gemini images that must end in the window before judging
    alarm_gemini_error_rate: float = Field(default=0.10, gt=0, le=1)
    alarm_db_connections: float = Field(default=0.80, gt=0, le=1)
    alarm_queue_wait_seconds: float = Field(default=600.0, gt=0)
    alarm_min_calls: int = Field(default=20, ge=1)  # API requests / storage operations before a rate is judged
    alarm_api_error_rate: float = Field(default=0.05, gt=0, le=1)  # share answered 5xx
    alarm_api_slow_seconds: float = Field(default=2.0, gt=0)  # the API's p95 must stay under this
    alarm_storage_error_rate: float = Field(default=0.01, gt=0, le=1)
    # REST API limits per token and per client address, in the `limits` library's notation.
    api_rate_limits: str = "10 per 5 seconds; 100 per minute"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _SecretsTomlSource(settings_cls, SECRETS_FILE)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        _networks(value)  # raises ValueError (a ConfigError at start-up) for anything but IPs and CIDRs
        return value

    @field_validator("api_rate_limits")
    @classmethod
    def _limits_parse(cls, value: str) -> str:
        from limits import parse_many

        parse_many(value)  # raises ValueError for anything the limits library cannot read
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return _networks(self.trusted_proxies)

    @property
    def embedded(self) -> bool:
        """True in the zero-configuration default (no DATABASE_URL)."""
        return self.database_url is None

    @property
    def objects_dir(self) -> Path:
        return self.studio_home / "objects"

    @property
    def pgdata_dir(self) -> Path:
        return self.studio_home / "pgdata"

    def cookie_key(self) -> str:
        """The cookie signing key; generated once under `.studio/` in the embedded default."""
        key = (self.studio_cookie_key or "").strip()
        if key and key.lower() not in PLACEHOLDER_SECRETS and len(key) >= MIN_COOKIE_KEY_LENGTH:
            return key
        if not self.embedded:
            raise ConfigError(
                "STUDIO_COOKIE_KEY is missing, a placeholder or shorter than "
                f"{MIN_COOKIE_KEY_LENGTH} characters; set a random key (e.g. `openssl rand -hex 32`)."
            )
        path = self.studio_home / "cookie_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def billing_configured(self) -> bool:
        """True when Stripe can be used: a secret key and a Price for each paid plan."""
        key = self.stripe_secret_key.get_secret_value().strip() if self.stripe_secret_key else ""
        return bool(key and self.stripe_price_basic and self.stripe_price_pro)

    def check_stripe(self) -> None:
        """Refuse placeholder Stripe secrets, and a half-configured Stripe (raises ConfigError)."""
        secrets_given = {"STRIPE_SECRET_KEY": self.stripe_secret_key,
                         "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret}
        if not any(secrets_given.values()) and not (self.stripe_price_basic or self.stripe_price_pro):
            return
        for name, value in secrets_given.items():
            if value is None or value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ConfigError(f"{name} is missing or a placeholder; set it or leave every STRIPE_* unset.")
        if not (self.stripe_price_basic and self.stripe_price_pro):
            raise ConfigError("set STRIPE_PRICE_BASIC and STRIPE_PRICE_PRO (Stripe Price ids) to sell plans.")

    def validate_for_startup(self) -> None:
        """Refuse to start with unsafe production settings (raises ConfigError)."""
        self.cookie_key()
        self.check_stripe()


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and secrets file, translating errors to ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from exc


def write_setting(path: Path, name: str, value: float | int | str) -> None:
    """Set one flat key in a TOML settings file, keeping every other line (comments included).

    An existing `NAME = ...` line (any case) is replaced; otherwise the key goes before the first
    table, where flat keys must be. The file is checked to still parse, then replaced atomically.
    """
    if name.lower() not in Settings.model_fields:
        raise ConfigError(f"{name} is not a setting")
    line = f"{name.upper()} = {_toml_value(value)}"
    lines = path.read_text().splitlines() if path.is_file() else []
    flat = next((i for i, text in enumerate(lines) if text.lstrip().startswith("[")), len(lines))
    key = re.compile(rf"^\s*{re.escape(name)}\s*=", re.IGNORECASE)
    found = [i for i in range(flat) if key.match(lines[i])]
    if found:
        lines[found[0]] = line
        lines = [text for i, text in enumerate(lines) if i not in found[1:]]
    else:
        lines.insert(flat, line)
    content = "\n".join(lines) + "\n"
    tomllib.loads(content)  # never leave a file the studio cannot start with
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def _toml_value(value: float | int | str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"cannot write {value!r} as a setting")
    return json.dumps(value) if isinstance(value, str) else repr(value)  # JSON strings are TOML strings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
