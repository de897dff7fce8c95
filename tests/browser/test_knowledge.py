"""The knowledge page in a real Chromium: a question the bot could not answer on Telegram shows
as a gap; staff teach it to an entry, and a fresh `hotline ask` process answers it with that
entry."""

from __future__ import annotations

import asyncio
import json

from playwright.async_api import expect

from tests.browser.conftest import MEMBER_ID, STAFF_ID, Hotline
from tests.conftest import run_hotline

QUESTION = "can we borrow the minibus for the netball trip"
ENTRY = "membership-brokering-support"


async def ask(hotline: Hotline) -> dict[str, object]:
    asked = await asyncio.to_thread(
        run_hotline, "ask", "--json", QUESTION, env={"DATABASE_URL": hotline.db_url}
    )
    assert asked.returncode == 0, asked.stderr
    answer: dict[str, object] = json.loads(asked.stdout)
    return answer


async def test_staff_teach_a_gap_to_an_entry_and_hotline_ask_answers_it(hotline: Hotline) -> None:
    assert (await ask(hotline))["answer_id"] is None  # not answered before
    await hotline.telegram(MEMBER_ID, QUESTION)
    await hotline.tg.wait_for_messages(MEMBER_ID, 1)

    page = await hotline.signed_in(STAFF_ID)
    await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Knowledge").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Knowledge")
    gap = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=QUESTION))
    await expect(gap).to_be_visible()
    await gap.get_by_label("Entry").select_option(ENTRY)
    await gap.get_by_role("button", name="Teach").click()

    await expect(page.get_by_role("rowheader", name=QUESTION)).to_have_count(0)  # taught
    await expect(page.get_by_role("status")).to_contain_text(ENTRY)

    answer = await ask(hotline)  # a fresh process learns it from the database
    assert (answer["band"], answer["answer_id"]) == ("answer", ENTRY), answer
    hotline.assert_no_csp_violations()
