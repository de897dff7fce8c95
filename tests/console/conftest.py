"""The staff console's test bench: a bot on the test database with a staff member, an admin
and a member, its web app through httpx's ASGI transport, and a clock the test moves.

`c.signed_in(person)` gives a client signed in as that person through the real chat link;
`c.csrf(page_text)` reads a page's CSRF token for a form's POST.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.app import Bot, open_bot
from bot.config import load_settings
from bot.core.types import IncomingMessage
from bot.escalation.urgency import UrgencyDetector
from bot.knowledge import KnowledgeBase
from bot.store import Database
from bot.store.models import Person, Role
from bot.web import build_web_app
from tests.conftest import DATA, make_deps
from tests.factories import make_person, make_rota, rota_yaml

SECRET = b"console-test-secret-0123456789-abcdef"
LINK = re.compile(r"(?:https?://[^/\s]+)?(/console/signin/([A-Za-z0-9_-]+))")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# A Wednesday morning in hotline hours (London is on UTC in November).
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Console:
    db: Database
    bot: Bot
    http: httpx.AsyncClient
    clock: Clock
    staff: Person
    admin: Person
    member: Person

    async def chat(self, person: Person, text: str) -> str:
        replies = await self.bot.dispatcher.handle(
            IncomingMessage("console", person.email, person.email, text=text)
        )
        assert len(replies) == 1
        return replies[0].text

    async def link(self, person: Person) -> str:
        """The path of a fresh sign-in link, sent in chat."""
        found = LINK.search(await self.chat(person, "/console"))
        assert found is not None
        return found.group(1)

    async def sign_in(self, path: str) -> httpx.Response:
        form = await self.http.get(path)
        assert form.status_code == 200, form.text
        csrf = CSRF.search(form.text)
        assert csrf is not None
        return await self.http.post(path, data={"csrf": csrf.group(1)})

    def csrf(self, text: str) -> str:
        """The CSRF token of a page's forms."""
        found = CSRF.search(text)
        assert found is not None, "no CSRF token on the page"
        return found.group(1)

    async def signed_in(self, person: Person, ip: str = "127.0.0.1") -> httpx.AsyncClient:
        """A new client signed in as `person` (staff or admin) from a link sent in chat, not yet
        opened: use it as `async with await c.signed_in(person) as http:`."""
        path = await self.link(person)
        async with self.client(ip) as browser:
            form = await browser.get(path)
            signed = await browser.post(path, data={"csrf": self.csrf(form.text)})
            assert signed.status_code == 303, signed.text
            cookies = browser.cookies
        client = self.client(ip)
        client.cookies = cookies
        return client

    def client(self, ip: str = "127.0.0.1") -> httpx.AsyncClient:
        app = build_web_app(1_000_000, bot=self.bot, console_secret=SECRET)
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://hotline.test")


@pytest.fixture(name="c")
async def console(
    db: Database, db_url: str, kb: KnowledgeBase, urgency: UrgencyDetector
) -> AsyncIterator[Console]:
    staff = await make_person(db, role=Role.STAFF, name="Sam Adeyemi")
    admin = await make_person(db, role=Role.ADMIN, name="Ruth Green")
    member = await make_person(db, name="Amara Okafor")
    await make_rota(db, rota_yaml(staff.email, None, admin.email))
    clock = Clock()
    settings = load_settings(database_url=db_url, data_dir=DATA, public_url="http://hotline.test")
    deps = replace(make_deps(kb, urgency, clock=clock), public_url=settings.public_url)
    async with open_bot(settings, deps=deps, background=False) as bot:
        app = build_web_app(1_000_000, bot=bot, console_secret=SECRET)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as http:
            yield Console(db, bot, http, clock, staff, admin, member)
