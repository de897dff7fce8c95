"""The Acknowledge link's token (signed over request, person and expiry; 7 days at most) and the
settings that switch ping emails on (STAFF_EMAIL_AFTER_MIN, EMAIL_ACK)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.core.errors import ConfigError
from bot.escalation.ack_links import ack_url, check_token, console_url, make_token
from bot.loading import escalation_config

NOW = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
KEY = b"s" * 32


def test_a_token_names_one_request_and_one_person_until_it_expires() -> None:
    token = make_token(KEY, 42, 7, NOW)
    assert (check_token(KEY, token, NOW).request_id, check_token(KEY, token, NOW).person_id) == (
        42,
        7,
    )
    assert check_token(KEY, token, NOW + timedelta(days=6, hours=23)).request_id == 42
    assert check_token(KEY, token, NOW + timedelta(days=7, seconds=1)).problem == "expired"
    request, person, expires, signature = token.split(".")
    assert check_token(KEY, f"43.{person}.{expires}.{signature}", NOW).problem == "forged"
    assert check_token(KEY, f"{request}.8.{expires}.{signature}", NOW).problem == "forged"
    later = str(int(expires) + 86400)
    assert check_token(KEY, f"{request}.{person}.{later}.{signature}", NOW).problem == "forged"
    assert check_token(b"another key", token, NOW).problem == "forged"
    for bad in ("", "42", "42.7.1.x", f"{token}.", f"{token}=", "a.b.c.d"):
        assert check_token(KEY, bad, NOW).problem == "malformed", bad


def test_links_are_made_on_the_public_url() -> None:
    assert ack_url("https://hotline.test/", "1.2.3.abc") == "https://hotline.test/ack/1.2.3.abc"
    assert (
        console_url("https://hotline.test", "HL-2026-0042")
        == "https://hotline.test/console/requests/HL-2026-0042"
    )


def test_the_settings_switch_ping_emails_on(tmp_path: Path) -> None:
    base = {
        "public_url": "https://hotline.test",
        "embedding_cache_dir": tmp_path,
        "email_from": "Hotline <hotline@hotline.test>",
        "partnership_name": "Riverside Partnership",
    }
    assert escalation_config(load_settings(**base)).email is None  # nothing signs the links
    setup = escalation_config(load_settings(**base, email_secret="e" * 40)).email
    assert setup is not None
    assert (setup.after, setup.ack, setup.public_url) == (
        timedelta(minutes=2),
        "link",
        "https://hotline.test",
    )
    assert setup.sender == "Riverside Partnership <hotline@hotline.test>"
    chosen = load_settings(
        **base, email_secret="e" * 40, staff_email_after_min=5, email_ack="console"
    )
    setup = escalation_config(chosen).email
    assert setup is not None and (setup.after, setup.ack) == (timedelta(minutes=5), "console")
    with pytest.raises(ConfigError):
        load_settings(**base, email_ack="sometimes")
    with pytest.raises(ConfigError):
        load_settings(**base, staff_email_after_min=-1)
