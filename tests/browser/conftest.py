"""The staff console in a real headless Chromium: Debian's `chromium` driven by Playwright.

`hotline` (the fixture) runs the whole bot as `hotline serve` does: the real web app under a real
uvicorn server on 127.0.0.1 (a free port, on the test's own event loop), PUBLIC_URL its own
address so links sent in chat open in the browser, the background loops running (sweeper,
outbox sender), and the Telegram channel pointed at the fake Bot API server the handler tests use
(tests/handlers/fake_telegram.py): people talk to the bot through the webhook, and what the bot
sends or edits is read back from the fake. The rota has the staff member on duty at every hour,
so the tests do not depend on the time of day they run at.

Chromium is /usr/bin/chromium (HOTLINE_CHROMIUM overrides), installed by `make test` through
scripts/ensure-browser when missing; without it these tests skip with the reason, or fail when
HOTLINE_REQUIRE_BROWSER=1 (CI). `playwright install` is never used: Playwright's Python wheel
carries its driver, and `executable_path` names Debian's browser.

Screenshots go to HOTLINE_SCREENSHOTS (a folder) when set, else to pytest's temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)
from sqlalchemy import select

from bot.app import Bot, open_bot
from bot.config import load_settings
from bot.directory.identities import link_identity
from bot.directory.importer import import_directory
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import Person, Role
from bot.web import SECRET_HEADER, build_web_app
from tests.conftest import DATA, make_deps
from tests.factories import make_rota, rota_yaml
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.payloads import tg_text_update

CHROMIUM = Path(os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium"))
SECRET = "browser-console-secret-0123456789-abcdef"
TG_SECRET = "browser-webhook-secret-0123456789"
STAFF_GROUP = -1007001
MEMBER_ID, STAFF_ID, ADMIN_ID, BACKUP_ID = 1001, 2001, 2002, 2003
LINK = re.compile(r"https?://[^\s\"'<>]+/console/signin/[A-Za-z0-9_-]+")
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=360, height=780)
WAIT_MS = 10_000  # how long an expect(...) waits for the page (htmx polls, the outbox sends)
CSP = "Content Security Policy"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is marked `browser` (`pytest -m "not browser"` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return (
            f"Chromium is not installed at {CHROMIUM}: `make test` installs Debian's chromium "
            "(scripts/ensure-browser) when run as root with apt-get; else `apt-get install "
            "chromium` as root"
        )
    return None


@pytest.fixture(scope="session")
def chromium() -> Path:
    problem = browser_problem()
    if problem is not None:
        if os.environ.get("HOTLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(problem + " (HOTLINE_REQUIRE_BROWSER=1)")
        pytest.skip(problem)
    return CHROMIUM


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: HOTLINE_SCREENSHOTS, else a folder of pytest's temporary
    folder (so a CI run leaves the repository clean)."""
    chosen = os.environ.get("HOTLINE_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Hotline:
    """The running bot, its console at `url`, the fake Telegram server and the browser."""

    db: Database
    db_url: str
    bot: Bot
    tg: FakeTelegram
    url: str
    http: httpx.AsyncClient  # to the real server, as Telegram's webhook calls arrive
    browser: Browser
    member: Person  # Amara Okafor; Telegram user MEMBER_ID
    staff: Person  # Sam Adeyemi, on duty at every hour; Telegram user STAFF_ID
    admin: Person  # Ruth Green, the rota's fallback; Telegram user ADMIN_ID
    console: list[str] = field(default_factory=list)  # every page's console messages
    _updates: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def telegram(self, user_id: int, text: str, first_name: str = "Amara") -> None:
        """`text` sent to the bot by Telegram user `user_id`, through the webhook."""
        update = tg_text_update(next(self._updates), user_id, text, first_name=first_name)
        answer = await self.http.post(
            "/telegram/webhook", json=update, headers={SECRET_HEADER: TG_SECRET}
        )
        assert answer.status_code == 200, answer.text

    def said_to(self, chat_id: int) -> list[str]:
        """The texts the bot sent to a Telegram chat, oldest first."""
        return [str(sent["text"]) for sent in self.tg.sent_to(chat_id)]

    async def link(self, user_id: int) -> str:
        """A sign-in link, as the bot answers /console on Telegram."""
        before = len(self.tg.sent_to(user_id))
        await self.telegram(user_id, "/console", first_name="Staff")
        await self.tg.wait_for_messages(user_id, before + 1)
        found = LINK.search("\n".join(self.said_to(user_id)[before:]))
        assert found is not None, self.said_to(user_id)[before:]
        return found.group(0)

    async def context(self, viewport: ViewportSize = DESKTOP) -> BrowserContext:
        """A new browser profile (its own cookies) whose pages' console messages are kept."""
        context = await self.browser.new_context(
            viewport=viewport, locale="en-GB", timezone_id="Europe/London"
        )

        def watch(page: Page) -> None:
            page.on("console", lambda message: self.console.append(said(message)))
            page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

        context.on("page", watch)
        return context

    async def signed_in(self, user_id: int, viewport: ViewportSize = DESKTOP) -> Page:
        """A page signed in through a link sent on Telegram to `user_id`, on the inbox."""
        link = await self.link(user_id)
        page = await (await self.context(viewport)).new_page()
        await page.goto(link)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page).to_have_url(f"{self.url}/console/requests")
        return page

    def csp_violations(self) -> list[str]:
        return [text for text in self.console if CSP in text]

    def assert_no_csp_violations(self) -> None:
        assert self.csp_violations() == [], self.csp_violations()


def said(message: ConsoleMessage) -> str:
    """A console message with where it came from (a failed load names the resource there)."""
    return f"{message.type}: {message.text} ({message.location.get('url') or '-'})"


def _listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def serving(bot: Bot, sock: socket.socket) -> AsyncIterator[None]:
    """The real web app under uvicorn on `sock`, on this event loop."""
    app = build_web_app(bot.settings.max_body_bytes, bot=bot, console_secret=SECRET.encode())
    config = uvicorn.Config(
        app, lifespan="off", ws="none", log_level="warning", access_log=False, timeout_notify=5
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task


async def example_partnership(db: Database) -> tuple[Person, Person, Person]:
    """The example partnership's directory (data/example/directory.yaml), with Amara Okafor (a
    member), Sam Adeyemi (staff) and Ruth Green (an admin) linked on Telegram, and a rota with
    Sam on duty at every hour, Lucy Brennan (linked too) as backup and Ruth as the fallback."""
    await import_directory(db, DATA / "example" / "directory.yaml")
    linked = {
        "amara.okafor@stmarys.example.org": MEMBER_ID,
        "sam.adeyemi@partnership.example.org": STAFF_ID,
        "ruth.green@partnership.example.org": ADMIN_ID,
        "lucy.brennan@partnership.example.org": BACKUP_ID,
    }
    async with db.session() as session:
        people = {
            p.email: p
            for p in await session.scalars(select(Person).where(Person.email.in_(linked)))
        }
        for email, user_id in linked.items():
            await link_identity(session, people[email], "telegram", str(user_id), str(user_id))
    emails = list(linked)
    await make_rota(db, rota_yaml(emails[1], emails[3], emails[2]))
    member, staff, admin = (people[email] for email in emails[:3])
    assert (member.role, staff.role, admin.role) == (Role.MEMBER, Role.STAFF, Role.ADMIN)
    return member, staff, admin


@pytest.fixture
async def hotline(
    chromium: Path,
    db: Database,
    db_url: str,
    kb: KnowledgeBase,
    urgency: UrgencyDetector,
) -> AsyncIterator[Hotline]:
    member, staff, admin = await example_partnership(db)
    with _listening_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with FakeTelegram() as tg:
            settings = load_settings(
                database_url=db_url,
                data_dir=DATA,
                telegram_token=tg.token,
                telegram_bot_username=tg.username,
                telegram_webhook_secret=TG_SECRET,
                telegram_api_base_url=tg.base_url,
                telegram_chat_interval_s=0,
                platform_timeout_s=2,
                staff_chat=f"telegram:{STAFF_GROUP}",
                public_url=url,
                console_secret=SECRET,
                digest_misfire_grace_s=0,  # no weekly digest at start-up on a Monday morning
            )
            deps = replace(
                make_deps(kb, urgency, staff_chats=settings.staff_chat_targets),
                public_url=settings.public_url,
            )
            async with (
                open_bot(settings, deps=deps) as bot,
                serving(bot, sock),
                httpx.AsyncClient(base_url=url, timeout=10) as http,
                async_playwright() as playwright,
            ):
                browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
                try:
                    yield Hotline(db, db_url, bot, tg, url, http, browser, member, staff, admin)
                finally:
                    await browser.close()
