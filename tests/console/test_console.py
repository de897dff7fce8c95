"""The staff console (bot/console/): sign-in by one-time links from chat or `hotline console
link`, signed session cookies, CSRF tokens, security headers and the open requests page, through
the real web app, dispatcher and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import load_settings
from bot.console.security import COOKIE, console_secret, sign_session
from bot.core import texts
from bot.directory.console_access import NotStaffError, create_link
from bot.store import Database, upgrade
from bot.store.models import ConsoleLink, ConsoleSession, Person, Role
from bot.web import build_web_app
from tests.conftest import DATA, ROOT, run_hotline
from tests.console.conftest import CSRF, LINK, SECRET, START, Console
from tests.handlers.conftest import Stack
from tests.handlers.conftest import stack as stack  # the fixture "s"
from tests.handlers.payloads import tg_text_update
from tests.handlers.test_web import _free_port, _listening, _text, _until


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_link_from_chat_signs_staff_in_once_and_shows_the_open_requests(
    c: Console,
) -> None:
    reply = await c.chat(c.member, "/emergency the boiler has exploded in the hall")
    reference = re.search(r"HL-\d{4}-\d{4,}", reply)
    assert reference is not None
    text = await c.chat(c.staff, "/console")
    assert text.startswith(texts.CONSOLE_LINK.split("{")[0])
    found = LINK.search(text)
    assert found is not None and found.group(0).startswith("http://hotline.test/console/signin/")
    path, token = found.group(1), found.group(2)
    async with c.db.session() as session:
        (row,) = (await session.scalars(select(ConsoleLink))).all()
    assert token not in row.token_hash and len(row.token_hash) == 64  # only its SHA-256
    assert row.expires_at == START + timedelta(minutes=15)

    page = await c.http.get(path)  # looking at the link uses nothing (link previews do this)
    assert page.status_code == 200 and "Sign in" in page.text
    signed = await c.sign_in(path)
    assert signed.status_code == 303 and signed.headers["location"] == "/console/requests"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Max-Age=43200", "Path=/console", "SameSite=lax"):
        assert attribute in cookie, attribute
    assert "Secure" not in cookie  # PUBLIC_URL is http here

    inbox = await c.http.get("/console/requests")
    assert inbox.status_code == 200
    assert reference.group() in inbox.text and "emergency" in inbox.text
    assert c.staff.name in inbox.text  # pinged: the primary on duty
    assert c.member.name not in inbox.text and "Sign out" in inbox.text
    assert (await c.http.get("/console/", follow_redirects=True)).url.path == "/console/requests"

    async with c.client() as other:  # the same link in another browser: used
        again = await other.get(path)
        assert again.status_code == 403 and "cannot be used" in again.text
        assert (await other.get("/console/requests")).headers["location"] == "/console/signin"
    assert await count(c.db, ConsoleSession) == 1


async def test_a_link_used_twice_at_once_or_after_it_expired_starts_nothing(c: Console) -> None:
    path = await c.link(c.staff)
    form = await c.http.get(path)
    csrf = CSRF.search(form.text)
    assert csrf is not None
    first = await c.http.post(path, data={"csrf": csrf.group(1)})
    second = await c.http.post(path, data={"csrf": csrf.group(1)})
    assert (first.status_code, second.status_code) == (303, 403)
    assert "cannot be used" in second.text

    late = await c.link(c.admin)
    form = await c.http.get(late)
    csrf = CSRF.search(form.text)
    assert csrf is not None
    c.clock.advance(minutes=15)
    expired = await c.http.post(late, data={"csrf": csrf.group(1)})
    assert expired.status_code == 403 and "cannot be used" in expired.text
    assert (await c.http.get(late)).status_code == 403
    assert await count(c.db, ConsoleSession) == 1


async def test_a_session_ends_after_12_hours_and_at_sign_out(c: Console) -> None:
    assert (await c.sign_in(await c.link(c.staff))).status_code == 303
    cookie = c.http.cookies[COOKIE]
    c.clock.advance(hours=11, minutes=59)
    assert (await c.http.get("/console/requests")).status_code == 200
    c.clock.advance(minutes=1)
    expired = await c.http.get("/console/requests")
    assert expired.status_code == 303 and expired.headers["location"] == "/console/signin"

    c.clock.now = START
    assert (await c.http.get("/console/requests")).status_code == 200
    no_token = await c.http.post("/console/signout")
    wrong = await c.http.post("/console/signout", data={"csrf": "x" * 43})
    assert (no_token.status_code, wrong.status_code) == (403, 403)
    assert (await c.http.get("/console/requests")).status_code == 200  # still signed in
    page = (await c.http.get("/console/requests")).text
    csrf = CSRF.search(page)
    assert csrf is not None
    foreign = await c.http.post(
        "/console/signout", data={"csrf": csrf.group(1)}, headers={"origin": "https://evil.test"}
    )
    assert foreign.status_code == 403
    out = await c.http.post("/console/signout", data={"csrf": csrf.group(1)})
    assert out.status_code == 303 and out.headers["location"] == "/console/signin"
    assert COOKIE not in c.http.cookies
    c.http.cookies.set(COOKIE, cookie, domain="hotline.test", path="/console")
    revoked = await c.http.get("/console/requests")  # the old cookie, revoked server-side
    assert revoked.status_code == 303 and revoked.headers["location"] == "/console/signin"
    async with c.db.session() as session:
        (row,) = (await session.scalars(select(ConsoleSession))).all()
    assert row.revoked_at == START and row.ip == "127.0.0.1"


async def test_forged_cookies_are_refused(c: Console) -> None:
    assert (await c.sign_in(await c.link(c.staff))).status_code == 303
    session_id = c.http.cookies[COOKIE].split(".")[0]
    forgeries = [
        f"{session_id}.{'A' * 43}",  # a made-up signature
        sign_session(b"another-deployment-secret-0123456789", session_id),
        sign_session(SECRET, "a-session-nobody-started-0123456789"),  # signed, never stored
        session_id,
        "",
    ]
    for forged in forgeries:
        async with c.client() as browser:
            browser.cookies.set(COOKIE, forged, domain="hotline.test", path="/console")
            page = await browser.get("/console/requests")
            assert page.status_code == 303, forged
            assert page.headers["location"] == "/console/signin"
            assert (await browser.post("/console/signout", data={"csrf": "x"})).status_code == 403


async def test_without_a_session_the_console_says_to_send_console_in_chat(c: Console) -> None:
    for path in ("/console", "/console/", "/console/requests"):
        page = await c.http.get(path, follow_redirects=True)
        assert page.url.path == "/console/signin", path
        assert page.status_code == 200 and "/console</code> to the hotline bot" in page.text


async def test_members_are_refused_and_can_have_no_link(c: Console) -> None:
    assert await c.chat(c.member, "/console") == texts.STAFF_ONLY.format(command="/console")
    async with c.db.session() as session:
        member = await session.get(Person, c.member.id)
        assert member is not None
        with pytest.raises(NotStaffError):
            await create_link(session, member, START)
    assert await count(c.db, ConsoleLink) == 0
    # A staff member made a member after the link was sent: the link signs nobody in.
    path = await c.link(c.staff)
    async with c.db.session() as session:
        demoted = await session.get(Person, c.staff.id)
        assert demoted is not None
        demoted.role = Role.MEMBER
    assert (await c.http.get(path)).status_code == 403
    assert await count(c.db, ConsoleSession) == 0


async def test_every_console_response_carries_the_security_headers(c: Console) -> None:
    path = await c.link(c.staff)
    responses = [
        await c.http.get("/console"),
        await c.http.get("/console/signin"),
        await c.http.get("/console/requests"),
        await c.http.get("/console/no-such-page"),
        await c.http.get("/console/signin/not-a-real-link-0123456789abcdef"),
        await c.http.post("/console/signout"),
        await c.http.get(path),
        await c.sign_in(path),
        await c.http.get("/console/requests"),
        await c.http.get("/console/static/console.css"),
    ]
    for response in responses:
        headers = response.headers
        assert (headers.get("x-frame-options"), headers.get("referrer-policy")) == (
            "DENY",
            "no-referrer",
        ), response.url
        csp = headers.get("content-security-policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, response.url
        assert "script-src 'self';" in csp  # htmx from /console/static, nothing inline
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers.get("x-content-type-options") == "nosniff"
        if not response.url.path.endswith(".css"):
            assert headers.get("cache-control") == "no-store", response.url
    assert "content-security-policy" not in (await c.http.get("/healthz")).headers
    page = responses[-2].text
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/console/static/htmx.min.js" defer>'
    ]  # the one script, from this site: no inline script, no inline style
    assert "style=" not in page and "<style" not in page and " on" + "click" not in page


async def test_bad_sign_in_attempts_are_limited_per_ip_and_logged_without_tokens(
    c: Console, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.console")
    good = await c.link(c.staff)
    guesses = [f"/console/signin/guess-{n:02d}-0123456789abcdefghij" for n in range(10)]
    async with c.client("203.0.113.7") as guesser:
        for guess in guesses:
            assert (await guesser.get(guess)).status_code == 403
        blocked = await guesser.get(good)  # even a good link, from that address, for now
        assert blocked.status_code == 429 and "Too many" in blocked.text
    async with c.client("198.51.100.2") as someone_else:
        assert (await someone_else.get(good)).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("console sign-in refused ip=203.0.113.7") == 11
    assert "reason=unknown" in logged and "reason=too many attempts" in logged
    for path in [good, *guesses]:
        assert path.rsplit("/", 1)[1] not in logged


async def test_a_sign_in_without_its_form_token_or_from_another_site_is_refused(
    c: Console,
) -> None:
    path = await c.link(c.staff)
    assert (await c.http.post(path)).status_code == 403
    assert (await c.http.post(path, data={"csrf": "forged"})).status_code == 403
    form = await c.http.get(path)
    csrf = CSRF.search(form.text)
    assert csrf is not None
    cross_site = await c.http.post(
        path, data={"csrf": csrf.group(1)}, headers={"origin": "https://evil.test"}
    )
    assert cross_site.status_code == 403
    # Under Referrer-Policy: no-referrer a browser sends `Origin: null`; Sec-Fetch-Site tells.
    for site in ("cross-site", "same-site", "none"):
        null_elsewhere = await c.http.post(
            path,
            data={"csrf": csrf.group(1)},
            headers={"origin": "null", "sec-fetch-site": site},
        )
        assert null_elsewhere.status_code == 403, site
    assert await count(c.db, ConsoleSession) == 0
    own_form = await c.http.post(
        path,
        data={"csrf": csrf.group(1)},
        headers={"origin": "null", "sec-fetch-site": "same-origin"},
    )
    assert own_form.status_code == 303


async def test_the_console_is_off_without_a_secret_when_served_over_https(
    c: Console, tmp_path: Path
) -> None:
    https = load_settings(data_dir=DATA, public_url="https://hotline.example.org/")
    assert https.public_url == "https://hotline.example.org" and https.served_over_https
    assert console_secret(https) is None
    app = build_web_app(1_000_000, bot=c.bot, console_secret=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://hotline.example.org"
    ) as http:
        for path in ("/console/requests", "/console/signin", await c.link(c.staff)):
            page = await http.get(path)
            assert page.status_code == 503 and "CONSOLE_SECRET" in page.text
    given = load_settings(
        data_dir=DATA, public_url="https://hotline.example.org", console_secret="s" * 32
    )
    assert console_secret(given) == b"s" * 32
    development = load_settings(data_dir=DATA, embedding_cache_dir=tmp_path / "cache")
    kept = console_secret(development)
    assert kept is not None and len(kept) == 64
    assert console_secret(development) == kept  # read back by the next process
    kept_file = tmp_path / "cache" / "console-secret"
    assert stat.S_IMODE(kept_file.stat().st_mode) == 0o600
    assert list(kept_file.parent.glob("*.partial")) == []  # written aside, then linked


def test_a_damaged_development_secret_is_a_clear_error(tmp_path: Path) -> None:
    from bot.core.errors import ConfigError

    development = load_settings(data_dir=DATA, embedding_cache_dir=tmp_path)
    (tmp_path / "console-secret").write_text("short\n")
    with pytest.raises(ConfigError, match="no usable console secret"):
        console_secret(development)


def test_public_url_and_console_secret_settings_are_checked() -> None:
    from bot.core.errors import ConfigError

    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings(data_dir=DATA, public_url="hotline.example.org")
    with pytest.raises(ConfigError, match="CONSOLE_SECRET"):
        load_settings(data_dir=DATA, console_secret="short")


def test_hotline_console_link_prints_a_link_for_staff_only(example_db: Path) -> None:
    admin = run_hotline("console", "link", "ruth.green@partnership.example.org")
    assert admin.returncode == 0, admin.stderr
    found = LINK.search(admin.stdout)
    assert found is not None and found.group(0).startswith("http://localhost:8080/console/")
    assert "Ruth Green" in admin.stdout and "15 minutes" in admin.stdout
    member = run_hotline("console", "link", "amara.okafor@stmarys.example.org")
    assert member.returncode == 1 and member.stdout == ""
    assert member.stderr.strip().splitlines() == [
        "amara.okafor@stmarys.example.org: Amara Okafor is a member; the console is for staff "
        "and admins (the directory's role column)"
    ]
    unknown = run_hotline("console", "link", "nobody@example.org")
    assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1
    assert "nobody active in the directory" in unknown.stderr
    public = run_hotline(
        "console",
        "link",
        "sam.adeyemi@partnership.example.org",
        env={"PUBLIC_URL": "https://hotline.example.org/"},
    )
    assert public.returncode == 0 and "https://hotline.example.org/console/signin/" in public.stdout


async def test_a_link_sent_on_telegram_signs_in(s: Stack) -> None:
    """Through python-telegram-bot, the webhook and the fake Bot API: the link as Telegram gets
    it (PUBLIC_URL's default here), opened against the same web app."""
    await s.telegram(tg_text_update(1, 2001, "/console"))
    (sent,) = s.tg.sent_to(2001)
    found = LINK.search(sent["text"])
    assert found is not None and found.group(0).startswith("http://localhost:8080/console/")
    app = build_web_app(1_000_000, bot=s.rt, console_secret=SECRET)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost:8080"
    ) as http:
        form = await http.get(found.group(1))
        csrf = CSRF.search(form.text)
        assert csrf is not None
        signed = await http.post(found.group(1), data={"csrf": csrf.group(1)})
        assert signed.status_code == 303
        inbox = await http.get("/console/requests")
    assert inbox.status_code == 200 and s.primary.name in inbox.text
    await s.telegram(tg_text_update(2, 1001, "/console"))
    assert s.tg.sent_to(1001)[-1]["text"] == texts.STAFF_ONLY.format(command="/console")


async def test_serve_signs_in_from_a_printed_link_and_logs_no_token(
    example_db: Path, tmp_path: Path
) -> None:
    """The real `hotline serve`: a link from `hotline console link` signs in; its log (the bot's
    and uvicorn's access log) has ids and addresses, never a token."""
    port = _free_port()
    env = {
        **os.environ,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "CONSOLE_SECRET": "serve-console-secret-0123456789abcdef",
        "LOG_LEVEL": "info",
    }
    printed = run_hotline("console", "link", "ruth.green@partnership.example.org", env=env)
    found = LINK.search(printed.stdout)
    assert printed.returncode == 0 and found is not None, printed.stderr
    path, token = found.group(1), found.group(2)
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - started, then polled without blocking
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            await _until(lambda: process.poll() is not None or _listening(port), log_file)
            assert process.poll() is None, _text(log_file)
            guess = await http.get("/console/signin/a-guess-0123456789abcdefghijklmnop")
            assert guess.status_code == 403
            form = await http.get(path)
            csrf = CSRF.search(form.text)
            assert csrf is not None
            signed = await http.post(path, data={"csrf": csrf.group(1)})
            assert signed.status_code == 303
            inbox = await http.get("/console/requests")
            assert inbox.status_code == 200 and "Ruth Green" in inbox.text
        wanted = ("console sign-in person=", '"GET /console/requests HTTP/1.1" 200')
        await _until(lambda: all(w in _text(log_file) for w in wanted), log_file)
    finally:
        process.terminate()
        await _until(lambda: process.poll() is not None, log_file)
    log_text = _text(log_file)
    assert "console sign-in refused ip=127.0.0.1 link=- reason=unknown" in log_text, log_text
    assert '"POST /console/signin/... HTTP/1.1" 303' in log_text, log_text
    assert token not in log_text and "a-guess-0123456789" not in log_text, log_text


def test_migration_0008_adds_the_console_tables_to_a_database_at_0007(
    unmigrated_url: str,
) -> None:
    assert upgrade(unmigrated_url, "0007").after == "0007"
    done = upgrade(unmigrated_url, "0008")
    assert (done.before, done.after) == ("0007", "0008")

    async def tables() -> list[int]:
        db = Database(unmigrated_url)
        try:
            return [await count(db, ConsoleLink), await count(db, ConsoleSession)]
        finally:
            await db.dispose()

    assert asyncio.run(tables()) == [0, 0]
