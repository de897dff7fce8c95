"""Signing in to the console from a link the bot sends on Telegram, in a real Chromium; and a
check that the CSP check every browser test ends with can see a violation."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import CSP, MEMBER_ID, STAFF_ID, Hotline


async def test_a_staff_member_signs_in_from_the_link_the_bot_sent_on_telegram(
    hotline: Hotline,
) -> None:
    link = await hotline.link(STAFF_ID)
    assert link.startswith(f"{hotline.url}/console/signin/")  # PUBLIC_URL: this server
    page = await (await hotline.context()).new_page()
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_role("button", name="Sign in").click()

    await expect(page).to_have_url(f"{hotline.url}/console/requests")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Open requests")
    await expect(page.get_by_text("Sam Adeyemi")).to_be_visible()
    await expect(page.get_by_role("navigation", name="Pages")).to_be_visible()
    await page.keyboard.press("Tab")  # keyboard users first meet the skip link
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    cookies = await page.context.cookies()
    (session,) = [c for c in cookies if c["path"] == "/console"]
    assert session.get("httpOnly") is True and session.get("sameSite") == "Lax"

    # The link worked once: in another browser it is refused.
    other = await (await hotline.context()).new_page()
    refused = await other.goto(link)
    assert refused is not None and refused.status == 403
    await expect(other.get_by_text("cannot be used")).to_be_visible()

    # Signing out ends the session: the console sends the browser to the sign-in help.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{hotline.url}/console/signin")
    await page.goto(f"{hotline.url}/console/requests")
    await expect(page).to_have_url(f"{hotline.url}/console/signin")
    hotline.assert_no_csp_violations()

    # That check is not vacuous: an inline script put into a console page is refused by its
    # Content-Security-Policy, and Chromium says so on the console.
    await page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'document.body.dataset.ran = 1'; document.body.append(s); }"
    )
    await expect(page.locator("body")).not_to_have_attribute("data-ran", "1")
    await page.wait_for_timeout(200)
    assert any(CSP in text for text in hotline.console), hotline.console

    # A member's /console gets no link.
    await hotline.telegram(MEMBER_ID, "/console")
    await hotline.tg.wait_for_messages(MEMBER_ID, 1)
    assert "/console/signin/" not in hotline.said_to(MEMBER_ID)[-1]
