"""The directory in a real Chromium: an admin invites a person, who redeems the code on
Telegram (/start CODE through the fake Bot API server); the directory then shows them linked.
Dan Whitfield is in the example directory, not linked to any chat yet."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import ADMIN_ID, Hotline

NEWCOMER_ID = 3001


async def test_an_admin_invites_a_person_who_redeems_the_code_on_telegram(
    hotline: Hotline,
) -> None:
    page = await hotline.signed_in(ADMIN_ID)
    await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Directory").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Directory")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Dan Whitfield"))
    await expect(row).to_contain_text("none linked")
    await row.get_by_role("button", name="Invite").click()

    await expect(page.get_by_role("heading", level=1)).to_contain_text("Dan Whitfield")
    code = (await page.locator(".invite-code code").inner_text()).strip()
    assert code
    link = page.get_by_role("link", name=f"https://t.me/{hotline.tg.username}?start={code}")
    await expect(link).to_be_visible()
    qr = page.get_by_role("img", name="QR code of the Telegram link")
    await expect(qr).to_be_visible()
    # The QR code must be an image the browser can draw (an SVG data URI needs its xmlns).
    drawn = await qr.evaluate(
        "async image => { try { await image.decode(); } catch (e) {} return image.naturalWidth; }"
    )
    assert drawn > 0, "the QR code image does not load in the browser"

    # The newcomer opens the link: Telegram sends /start CODE to the bot from their account.
    await hotline.telegram(NEWCOMER_ID, f"/start {code}", first_name="Dan")
    await hotline.tg.wait_for_messages(NEWCOMER_ID, 1)
    assert "Thanks Dan" in hotline.said_to(NEWCOMER_ID)[-1], hotline.said_to(NEWCOMER_ID)

    await page.get_by_role("link", name="Back to the directory").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Dan Whitfield"))
    await expect(row).to_contain_text(f"telegram …{str(NEWCOMER_ID)[-2:]}")  # shown masked
    await expect(row.get_by_role("button", name="Unlink")).to_be_visible()
    await expect(row).not_to_contain_text("none linked")
    hotline.assert_no_csp_violations()
