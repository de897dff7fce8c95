"""Setting up what the CLI tests need but no command does (linking happens in chat)."""

from __future__ import annotations

import asyncio
import os

from bot.directory import link_identity, person_by_email
from bot.store import Database


def link_console(email: str) -> None:
    async def run() -> None:
        db = Database(os.environ["DATABASE_URL"])
        try:
            async with db.session() as session:
                person = await person_by_email(session, email)
                assert person is not None
                await link_identity(session, person, "console", email, chat_id=email)
        finally:
            await db.dispose()

    asyncio.run(run())
