"""Every console route, read from the route table itself (so a page added later is covered):
without a session, with a forged or expired cookie, signed in as staff and as an admin, and
every POST without its CSRF token or from another site. Refused requests change no row."""

from __future__ import annotations

import re
from itertools import count

import httpx
from sqlalchemy import func, select
from starlette.routing import Route

from bot.console.pages import console_routes
from bot.console.security import COOKIE, sign_session
from bot.store.models import Base, ContentItem, ContentKind
from tests.console.conftest import SECRET, Console

PUBLIC = {  # reachable without a session (sign-in itself, and the static files)
    "/console",
    "/console/",
    "/console/signin",
    "/console/signin/{token}",
    "/console/static/{name}",
}
ADMIN_PAGES = {"/console/audit"}
ADMIN_POSTS = re.compile(r"^/console/(rota|directory)/")
_items = count(1)


def _routes(method: str) -> list[str]:
    return [
        r.path
        for r in console_routes()
        if isinstance(r, Route) and r.methods and method in r.methods and r.path not in PUBLIC
    ]


async def _fill(c: Console, path: str) -> str:
    """The path with real ids: a request raised in chat, a news item."""
    if "{key}" in path:
        said = await c.chat(c.member, "/emergency the boiler has exploded in the hall")
        found = re.search(r"HL-\d{4}-\d{4,}", said)
        assert found is not None
        path = path.replace("{key}", found.group())
    if "{item_id:int}" in path:
        async with c.db.session() as session:
            item = ContentItem(
                kind=ContentKind.EVENT if "/events/" in path else ContentKind.NEWS,
                slug=f"routes-test-{next(_items)}",
                title="Routes test",
                content_hash="0" * 64,
            )
            session.add(item)
            await session.flush()
            path = path.replace("{item_id:int}", str(item.id))
    return path


async def _rows(c: Console) -> dict[str, int]:
    async with c.db.session() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def test_every_page_needs_a_live_session_and_admin_pages_an_admin(c: Console) -> None:
    gets = _routes("GET")
    assert len(gets) >= 10, gets
    paths = [await _fill(c, p) for p in gets]
    forged = sign_session(SECRET, "a-session-nobody-started-0123456789")
    async with await c.signed_in(c.staff) as staff, await c.signed_in(c.admin) as admin:
        for template, path in zip(gets, paths, strict=True):
            anonymous = await c.http.get(path)
            assert anonymous.status_code == 303, path
            assert anonymous.headers["location"] == "/console/signin", path
            c.http.cookies.set(COOKIE, forged, domain="hotline.test", path="/console")
            assert (await c.http.get(path)).status_code == 303, path
            c.http.cookies.clear()
            as_staff = await staff.get(path)
            wanted = 403 if template in ADMIN_PAGES else 200
            assert as_staff.status_code == wanted, (path, as_staff.status_code)
            as_admin = await admin.get(path)
            assert as_admin.status_code == 200, (path, as_admin.status_code)
        c.clock.advance(hours=12)  # the sessions have expired
        for path in paths:
            assert (await staff.get(path)).status_code == 303, path


async def _refused(http: httpx.AsyncClient, path: str, **kwargs: object) -> int:
    response = await http.post(path, **kwargs)  # type: ignore[arg-type]
    return response.status_code


async def test_every_form_needs_its_token_from_this_site_and_admin_forms_an_admin(
    c: Console,
) -> None:
    posts = [p for p in _routes("POST") if p != "/console/signout"]
    assert len(posts) >= 15, posts
    paths = [await _fill(c, p) for p in posts]
    async with await c.signed_in(c.staff) as staff:
        page = await staff.get("/console/requests")
        csrf = c.csrf(page.text)
        before = await _rows(c)
        for template, path in zip(posts, paths, strict=True):
            assert await _refused(c.http, path, data={"csrf": csrf}) == 403, path
            assert await _refused(staff, path) == 403, path
            assert await _refused(staff, path, data={"csrf": "x" * 43}) == 403, path
            foreign = {"origin": "https://evil.test"}
            assert await _refused(staff, path, data={"csrf": csrf}, headers=foreign) == 403, path
            if ADMIN_POSTS.match(template):
                assert await _refused(staff, path, data={"csrf": csrf}) == 403, path
        assert await _rows(c) == before  # nothing refused wrote anything
    async with await c.signed_in(c.admin) as admin:
        page = await admin.get("/console/requests")
        csrf = c.csrf(page.text)
        c.clock.advance(hours=12, seconds=1)
        before = await _rows(c)
        for path in paths:  # an expired session's forms do nothing, whatever their token
            assert await _refused(admin, path, data={"csrf": csrf}) == 403, path
        assert await _rows(c) == before
