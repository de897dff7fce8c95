"""Every console page in a real Chromium at desktop (1280x900) and phone (360x780) width, with
some work in the hotline: each page loads for an admin without a console error or a CSP
violation, has labels, headings in order and named buttons, nothing but a wide table's own
scroll box is wider than a phone's screen, and a
full-page screenshot of each is written to HOTLINE_SCREENSHOTS (docs/screenshots/ in the
repository holds the ones the README shows), else to pytest's temporary folder."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from bot.digest.content import parse_file
from bot.digest.content_store import import_records
from bot.escalation.rota_store import add_override
from bot.store.models import ContentKind
from tests.browser.conftest import ADMIN_ID, DESKTOP, MEMBER_ID, PHONE, STAFF_ID, Hotline
from tests.browser.test_requests import emergency
from tests.conftest import DATA

LONDON = "Europe/London"
# The pages, each with what shows it has loaded: (file name, path, heading).
PAGES = [
    ("requests", "/console/requests", "Open requests"),
    ("request", None, "Request"),
    ("rota", "/console/rota", "Rota"),
    ("chains", "/console/rota/chains", "Escalation chains"),
    ("knowledge", "/console/knowledge?q=how+do+I+book+a+place+on+a+course", "Knowledge"),
    ("directory", "/console/directory", "Directory"),
    ("digest", "/console/digest", "Digest"),
    ("reports", "/console/reports", "Reports"),
    ("audit", "/console/audit", "Audit log"),
]
# What sticks out of the screen at 360 px, besides the scroll boxes wide tables sit in (and
# what is inside them) and what is hidden off to the left on purpose (the skip link).
WIDER_THAN_SCREEN = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    if (element.closest(".scroll")) continue;
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.right > width + 1 || (box.left < -1 && box.right > 0))) {
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + (element.className && typeof element.className === "string"
           ? "." + element.className.trim().split(/\\s+/).join(".") : "");
      wide.push(name + " " + Math.round(box.left) + ".." + Math.round(box.right));
    }
  }
  return {page: document.documentElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""


# What a page must have for screen readers and keyboards (the console's rules): every field a
# label, headings that never skip a level going down, named buttons, images with alt text,
# column headers with their scope.
UNLABELLED = """() => {
  const problems = [];
  for (const c of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!(c.labels && c.labels.length) && !c.getAttribute("aria-label")
        && !c.getAttribute("aria-labelledby")) problems.push("no label: " + c.outerHTML.slice(0, 80));
  }
  let last = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    const level = Number(h.tagName[1]);
    if (level > last + 1) problems.push("heading skips to h" + level + ": " + h.textContent.trim());
    last = level;
  }
  for (const b of document.querySelectorAll("button")) {
    if (!b.textContent.trim() && !b.getAttribute("aria-label")) problems.push("unnamed button");
  }
  for (const i of document.querySelectorAll("img:not([alt])")) problems.push("no alt: " + i.src.slice(0, 40));
  for (const t of document.querySelectorAll("thead th:not([scope])")) {
    problems.push("th without scope: " + t.textContent.trim());
  }
  return problems;
}"""


async def some_work(hotline: Hotline) -> str:
    """Requests in every state, a knowledge gap, an override, news and events; the reference
    of the emergency acknowledged in chat."""
    first = await emergency(hotline, "a pupil has gone missing from the playground")
    await emergency(hotline, "the boiler has exploded in the hall")
    await hotline.telegram(MEMBER_ID, "/human could someone call me about our Ofsted letter")
    await hotline.telegram(MEMBER_ID, "can we borrow the minibus for the netball trip")
    await hotline.telegram(STAFF_ID, "/help", first_name="Sam")
    tz = hotline.bot.deps.timezone
    tomorrow = datetime.now(tz).replace(hour=9, minute=0, second=0, microsecond=0)
    tomorrow += timedelta(days=1)
    async with hotline.db.session() as session:
        await add_override(
            session, hotline.admin.email, "backup", tomorrow, tomorrow + timedelta(hours=8)
        )
    for kind, name in ((ContentKind.NEWS, "news.yaml"), (ContentKind.EVENT, "events.yaml")):
        path = DATA / "example" / name
        await import_records(hotline.db, parse_file(path, kind, tz), path.name)
    # One emergency acknowledged in chat, as the duty officer would.
    await hotline.tg.wait_for(
        lambda: any(first in text for text in hotline.said_to(STAFF_ID)), 10, "the ping"
    )
    await hotline.telegram(STAFF_ID, f"/ack {first}", first_name="Sam")
    return first


async def shoot(page: Page, folder: Path, name: str, width: str) -> None:
    await page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)


async def test_every_page_at_desktop_and_phone_width(hotline: Hotline, screenshots: Path) -> None:
    acknowledged = await some_work(hotline)
    page = await hotline.signed_in(ADMIN_ID)
    link = page.get_by_role("row").get_by_role("link", name=acknowledged)
    await expect(link).to_be_visible()
    request_path = await link.get_attribute("href")
    assert request_path is not None
    problems: list[str] = []
    for (name, path, heading), (width, size) in itertools.product(
        PAGES, (("desktop", DESKTOP), ("phone", PHONE))
    ):
        await page.set_viewport_size(size)
        seen = len(hotline.console)
        answer = await page.goto(hotline.url + (path or request_path))
        assert answer is not None and answer.status == 200, (name, answer and answer.status)
        await expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        await shoot(page, screenshots, name, width)
        errors = hotline.console[seen:]  # a missing favicon counts too
        if errors:
            problems.append(f"{name} ({width}): console says {errors}")
        if width == "desktop":
            unlabelled = await page.evaluate(UNLABELLED)
            if unlabelled:
                problems.append(f"{name}: {unlabelled}")
        if width == "phone":
            measured = await page.evaluate(WIDER_THAN_SCREEN)
            if measured["page"] > measured["width"] or measured["wide"]:
                problems.append(f"{name} at 360 px: wider than the screen: {measured}")
    hotline.assert_no_csp_violations()
    assert problems == [], "\n".join(problems)
