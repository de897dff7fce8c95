"""The rota in a real Chromium: an admin adds an override with the form, and a fresh `hotline`
process sees it (`hotline rota show`)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from tests.browser.conftest import ADMIN_ID, STAFF_ID, Hotline
from tests.conftest import run_hotline

LONDON = ZoneInfo("Europe/London")


async def test_an_admin_adds_an_override_that_hotline_rota_show_lists(hotline: Hotline) -> None:
    # Tomorrow 09:00-17:00 local: Ruth (the fallback) covers as primary.
    day = (datetime.now(LONDON) + timedelta(days=1)).date()
    starts, ends = f"{day.isoformat()}T09:00", f"{day.isoformat()}T17:00"

    page = await hotline.signed_in(ADMIN_ID)
    await page.get_by_role("navigation", name="Pages").get_by_role("link", name="Rota").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Rota")
    await expect(page.get_by_text("No current or upcoming overrides")).to_be_visible()
    await page.get_by_label("Person").select_option(label=f"Ruth Green ({hotline.admin.email})")
    await page.get_by_label("Role").select_option("primary")
    await page.get_by_label("Starts").fill(starts)
    await page.get_by_label("Ends").fill(ends)
    await page.get_by_role("button", name="Add override").click()

    overrides = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Ends"))
    row = overrides.get_by_role("row").filter(has_text="Ruth Green")
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("primary")
    await expect(row).to_contain_text("upcoming")

    show = await asyncio.to_thread(
        run_hotline,
        "rota",
        "show",
        "--at",
        f"{day.isoformat()}T12:00",
        env={"DATABASE_URL": hotline.db_url},
    )
    assert show.returncode == 0, show.stderr
    assert f"level 1 primary: {hotline.admin.email}" in show.stdout, show.stdout
    stamp = f"{datetime.fromisoformat(starts):%a %d %b %Y %H:%M}"
    assert f"{hotline.admin.email} primary from {stamp}" in show.stdout, show.stdout

    # Staff may look at the rota, but the form is for admins only.
    staff_page = await hotline.signed_in(STAFF_ID)
    await staff_page.goto(f"{hotline.url}/console/rota")
    await expect(staff_page.get_by_role("table").filter(has_text="Ruth Green")).not_to_have_count(0)
    await expect(staff_page.get_by_role("button", name="Add override")).to_have_count(0)
    hotline.assert_no_csp_violations()
