"""The inbox and a request in a real Chromium: a member's emergency sent on Telegram appears
without a reload; acknowledging it in the browser edits the chat pings and tells the member, and
a reply typed in the browser reaches the member on Telegram."""

from __future__ import annotations

import itertools
import re

from playwright.async_api import expect

from tests.browser.conftest import MEMBER_ID, STAFF_GROUP, STAFF_ID, WAIT_MS, Hotline

REFERENCE = re.compile(r"HL-\d{4}-\d{4,}")


async def emergency(hotline: Hotline, text: str) -> str:
    """A member's /emergency on Telegram; its reference, from the bot's answer."""
    before = len(hotline.tg.sent_to(MEMBER_ID))
    await hotline.telegram(MEMBER_ID, f"/emergency {text}")
    await hotline.tg.wait_for_messages(MEMBER_ID, before + 1)
    found = REFERENCE.search("\n".join(hotline.said_to(MEMBER_ID)[before:]))
    assert found is not None, hotline.said_to(MEMBER_ID)
    return found.group()


def ping_of(hotline: Hotline, chat_id: int, reference: str) -> int | None:
    """The message id of the ping about `reference` sent to a Telegram chat, if sent yet."""
    for message_id in itertools.count(1):
        message = hotline.tg.message(chat_id, message_id)
        if message is None:
            return None
        if reference in str(message["text"]):
            return message_id
    return None


async def test_a_members_emergency_appears_in_the_open_inbox_without_a_reload(
    hotline: Hotline,
) -> None:
    page = await hotline.signed_in(STAFF_ID)
    await expect(page.get_by_text("No open requests")).to_be_visible()
    await expect(page).to_have_title(re.compile(r"^\(0\) Open requests"))
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    reference = await emergency(hotline, "the boiler has exploded in the hall")
    row = page.get_by_role("row").filter(has_text=reference)
    await expect(row).to_be_visible(timeout=WAIT_MS)  # htmx's poll brought it in
    await expect(row).to_contain_text("emergency")
    await expect(row).to_contain_text("Sam Adeyemi", timeout=WAIT_MS)  # pinged: on duty
    await expect(page).to_have_title(re.compile(r"^\(1\) Open requests"), timeout=WAIT_MS)
    assert navigations == [], "the page was reloaded"
    hotline.assert_no_csp_violations()


async def test_acknowledging_in_the_browser_edits_the_chat_pings_and_tells_the_member(
    hotline: Hotline,
) -> None:
    reference = await emergency(hotline, "a pupil has gone missing from the playground")
    # The outbox sender (a background loop) pings the duty officer and the staff group.
    await hotline.tg.wait_for(
        lambda: (
            ping_of(hotline, STAFF_ID, reference) is not None
            and ping_of(hotline, STAFF_GROUP, reference) is not None
        ),
        WAIT_MS / 1000,
        f"the pings about {reference}",
    )
    pinged = ping_of(hotline, STAFF_ID, reference)
    copy = ping_of(hotline, STAFF_GROUP, reference)
    assert pinged is not None and copy is not None
    before = hotline.tg.message(STAFF_ID, pinged)
    assert before is not None and (before.get("reply_markup") or {}).get("inline_keyboard")

    page = await hotline.signed_in(STAFF_ID)
    await page.get_by_role("link", name=reference).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "Acknowledged. The bot is telling the member who has it."
    )

    def edited(chat_id: int, message_id: int) -> bool:
        message = hotline.tg.message(chat_id, message_id)
        return bool(
            message
            and "edit_date" in message
            and "Acknowledged by Sam Adeyemi" in str(message["text"])
            and not (message.get("reply_markup") or {}).get("inline_keyboard")
        )

    await hotline.tg.wait_for(
        lambda: edited(STAFF_ID, pinged) and edited(STAFF_GROUP, copy),
        WAIT_MS / 1000,
        "the pings edited: acknowledged, no buttons",
    )
    assert {c.method for c in hotline.tg.calls} & {"editMessageText", "editMessageReplyMarkup"}
    await hotline.tg.wait_for(
        lambda: any(
            "Sam Adeyemi" in text and "has your request" in text
            for text in hotline.said_to(MEMBER_ID)
        ),
        WAIT_MS / 1000,
        "the member told who has their request",
    )

    # A reply from the console reaches the member on Telegram; resolving takes it off the inbox.
    told = len(hotline.tg.sent_to(MEMBER_ID))
    await page.get_by_label("Reply", exact=True).fill("We are on our way to help search.")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_role("status")).to_contain_text("Your reply is on its way")
    await hotline.tg.wait_for(
        lambda: any("on our way to help search" in t for t in hotline.said_to(MEMBER_ID)[told:]),
        WAIT_MS / 1000,
        "the reply relayed to the member",
    )
    await page.get_by_label("Resolution note", exact=True).fill("Found safe in the library.")
    await page.get_by_role("button", name="Resolve").click()
    await expect(page.get_by_role("status")).to_contain_text("Resolved.")
    await page.get_by_role("link", name="All open requests").click()
    await expect(page.get_by_text("No open requests")).to_be_visible()
    hotline.assert_no_csp_violations()
