"""DATABASE_URL is checked without SQLAlchemy (bot/config.py): the check must agree with
SQLAlchemy's own parse, which `Settings.db_url` still is."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import load_settings, split_url
from bot.core.errors import ConfigError
from bot.store.db import sqlite_path

URLS = [
    "sqlite+aiosqlite:///hotline.db",
    "sqlite:///hotline.db",
    "sqlite:////var/lib/hotline/hotline.db",
    "sqlite+aiosqlite:///:memory:",
    "sqlite:///dir%20with%20space/x.db",
    "sqlite:///x.db?mode=rwc",
    "postgresql://hotline@localhost/hotline",
    "postgres://u:p%40ss@db.example.org:5433/hotline?sslmode=require",
    "postgresql+asyncpg://u@[::1]:5432/h",
    "postgresql+asyncpg://u:pa:ss@host/db",
]


@pytest.mark.parametrize("url", URLS)
def test_the_light_parse_reads_what_sqlalchemy_reads(url: str) -> None:
    light, real = split_url(url), make_url(url)
    assert (light.drivername, light.database) == (real.drivername, real.database)


@pytest.mark.parametrize("url", URLS)
def test_settings_normalise_the_url_as_before(url: str) -> None:
    """The same URL as when SQLAlchemy rendered the setting, and the same SQLite file."""
    real = make_url(url)
    if real.drivername in ("sqlite", "postgresql", "postgres"):
        driver = "sqlite+aiosqlite" if real.drivername == "sqlite" else "postgresql+asyncpg"
        real = real.set(drivername=driver)
    settings = load_settings(database_url=url)
    assert settings.db_url == real
    assert settings.sqlite_file == sqlite_path(real)
    if settings.sqlite_file is not None:
        assert settings.sqlite_file == Path(str(real.database))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "malformed URL"),
        ("sqlite:/hotline.db", "malformed URL"),
        ("postgresql://u@host:port/db", "malformed URL"),
        ("mysql://x@y/z", "unsupported database 'mysql'"),
        ("sqlite://", "a SQLite URL needs a file name"),
        ("sqlite://hotline.db", "a SQLite URL needs a file name"),
    ],
)
def test_a_bad_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"^DATABASE_URL: {reason}"):
        load_settings(database_url=url)


@pytest.mark.parametrize("url", ["not a url", "sqlite:/hotline.db", "postgresql://u@host:port/db"])
def test_what_the_light_parse_refuses_sqlalchemy_refuses(url: str) -> None:
    with pytest.raises((ArgumentError, ValueError)):
        make_url(url)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SMTP_TLS", "ssl", "'ssl' is not one of starttls, implicit, none"),
        ("SMTP_PORT", "0", "Input should be greater than or equal to 1"),
        ("SMTP_PORT", "smtp", "Input should be a valid integer"),
        ("SMTP_TIMEOUT_S", "0", "Input should be greater than 0"),
        ("SMTP_MAX_PER_SECOND", "-1", "Input should be greater than 0"),
        ("SMTP_MESSAGES_PER_CONNECTION", "0", "Input should be greater than or equal to 1"),
        ("EMAIL_FROM", "hotline", "'hotline' is not an email address"),
        ("EMAIL_FROM", "Hotline <hot line@x.org>", "'Hotline <hot line@x.org>' is not an email"),
    ],
)
def test_a_bad_email_setting_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}: {reason}") as raised:
        load_settings()
    assert "\n" not in str(raised.value)


def test_email_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMAIL_OUTBOX_DIR")  # tests/conftest.py sets one for the test run
    defaults = load_settings()
    assert (defaults.smtp_host, defaults.smtp_port, defaults.smtp_tls) == (None, 587, "starttls")
    assert defaults.email_from == "Hotline <hotline@localhost>"
    assert defaults.email_outbox_dir == Path("email-outbox")
    monkeypatch.setenv("SMTP_HOST", " ")  # SMTP_HOST= in .env: unset, emails go to files
    monkeypatch.setenv("SMTP_TLS", "Implicit")
    monkeypatch.setenv("SMTP_PASSWORD", " key with spaces ")
    monkeypatch.setenv("EMAIL_FROM", "Northside Partnership <hotline@northside.example>")
    settings = load_settings()
    assert settings.smtp_host is None
    assert settings.smtp_tls == "implicit"
    assert settings.smtp_password == " key with spaces "
    assert settings.email_from == "Northside Partnership <hotline@northside.example>"
