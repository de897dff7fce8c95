"""One-click unsubscribe from the digest email: signed, expiring tokens, and the web routes
(a GET changes nothing; a POST unsubscribes, idempotently; forged or expired links are refused
and change nothing), on both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
from sqlalchemy import select

from bot.app import Bot
from bot.digest.unsubscribe import check_token, email_secret, make_token
from bot.digest.weekly import prepare_week
from bot.store.models import OutboundMessage, OutboxStatus, Person, utcnow
from bot.web import build_web_app
from tests.digest.conftest import WEEK, Digests, member
from tests.digest.test_email_digest import LINKS, Links, setup, with_email

NOW = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)


def test_a_token_names_one_person_for_one_purpose_until_it_expires() -> None:
    key = setup().secret
    token = make_token(key, 42, NOW)
    assert check_token(key, token, NOW).person_id == 42
    assert check_token(key, token, NOW + timedelta(days=59, hours=23)).person_id == 42
    assert check_token(key, token, NOW + timedelta(days=60, seconds=1)).problem == "expired"
    person, expires, signature = token.split(".")
    assert check_token(key, f"43.{expires}.{signature}", NOW).problem == "forged"
    later = str(int(expires) + 86400)
    assert check_token(key, f"{person}.{later}.{signature}", NOW).problem == "forged"
    assert check_token(key, token, NOW, purpose="acknowledge").problem == "forged"
    assert check_token(b"another key", token, NOW).problem == "forged"
    for bad in ("", "42", "42.1.x", f"{token}.", f"{token}=", "a.b.c"):
        assert check_token(key, bad, NOW).problem == "malformed", bad


def test_the_key_comes_from_email_secret_else_the_console_secret_else_a_kept_one(
    tmp_path: Path,
) -> None:
    own = email_secret(LINKS)
    console = email_secret(Links(email_secret=None, console_secret="c" * 40))
    assert own is not None and console is not None and own != console
    assert email_secret(Links(email_secret=None, console_secret=None)) is None  # https: none
    dev = Links(email_secret=None, embedding_cache_dir=tmp_path, served_over_https=False)
    kept = email_secret(dev)
    assert kept is not None and email_secret(dev) == kept  # made once, read back
    assert (tmp_path / "email-secret").stat().st_mode & 0o777 == 0o600
    assert kept != email_secret(replace(dev, embedding_cache_dir=tmp_path / "other"))


async def test_unsubscribe_link_get_changes_nothing_post_unsubscribes_forged_refused(
    d: Digests,
) -> None:
    with_email(d)
    person = await member(d.db, linked=False)
    await prepare_week(d.db, d.kb, d.config, WEEK, d.clock())  # a delivery waiting to be sent
    app = build_web_app(1_000_000, bot=cast(Bot, SimpleNamespace(db=d.db, settings=LINKS)))
    key = setup().secret
    token = make_token(key, person.id, utcnow())

    async def state() -> tuple[bool, str | None, list[OutboxStatus]]:
        async with d.db.session() as session:
            row = await session.get(Person, person.id)
            assert row is not None
            rows = await session.scalars(
                select(OutboundMessage.status).where(OutboundMessage.person_id == person.id)
            )
            return row.digest_subscribed, row.digest_channel, list(rows)

    before = await state()
    assert before == (True, None, [OutboxStatus.PENDING])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://hotline.test") as http:
        page = await http.get(f"/email/unsubscribe/{token}")
        assert page.status_code == 200 and '<form method="post">' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "<script" not in page.text
        assert await state() == before  # a GET (a mail scanner) changes nothing

        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        other = make_token(b"another key entirely", person.id, utcnow())
        expired = make_token(key, person.id, utcnow() - timedelta(days=61))
        for bad, status in ((forged, 403), (other, 403), (expired, 400), ("12.34.x", 400)):
            refused = await http.post(
                f"/email/unsubscribe/{bad}", content=b"List-Unsubscribe=One-Click"
            )
            assert refused.status_code == status, bad
            assert (await http.get(f"/email/unsubscribe/{bad}")).status_code == status
        assert await state() == before

        for _ in range(2):  # the one-click POST, and again: the same answer
            done = await http.post(
                f"/email/unsubscribe/{token}",
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert done.status_code == 200 and "unsubscribed" in done.text
            assert await state() == (False, "off", [OutboxStatus.CANCELLED])
        # the page's own button posts a form with no Origin a mail client would send either
        button = await http.post(f"/email/unsubscribe/{token}", data={"List-Unsubscribe": "x"})
        assert button.status_code == 200
