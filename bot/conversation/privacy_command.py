"""/privacy for everyone: the partnership's privacy notice and how to ask for a copy of one's data
or its erasure.

The notice is the partnership's own text, `DATA_DIR/privacy.md` (data/privacy.md is an example
to adapt), read when asked, so an edited notice shows at once. DATA_DIR is the data folder the
knowledge base was loaded from. A missing or unreadable notice gets a short answer saying whom to
ask, never an error. The texts live here rather than in bot/core/texts.py: they belong to this
command alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.conversation.chat_command import FOR_EVERYONE, Command
from bot.conversation.context import Context, Deps
from bot.core.types import Reply
from bot.knowledge.loader import KnowledgeBase
from bot.knowledge.source import KnowledgeSource
from bot.teaching.live import LiveKnowledge

log = logging.getLogger(__name__)

NOTICE_FILE = "privacy.md"

NO_NOTICE = (
    "The Partnership has not put its privacy notice here yet. To ask what the hotline keeps "
    "about you, for a copy of it or for it to be erased, contact the Partnership office "
    "(hotline {phone})."
)
YOUR_RIGHTS = (
    "A copy of your data, or its erasure: ask the Partnership office or its data protection "
    "officer (contact details above). Staff make the copy, or erase you, and tell you when it "
    "is done."
)
# The longest notice sent in one message (Telegram takes 4096 characters); the rest is cut.
MAX_NOTICE_CHARS = 3500
CUT = "\n…(the rest of the notice is with the Partnership office)"


def data_dir_of(kb: KnowledgeSource) -> Path | None:
    """The data folder the knowledge base was loaded from (None: built in memory)."""
    base = kb.base if isinstance(kb, LiveKnowledge) else kb
    files = base.files if isinstance(base, KnowledgeBase) else None
    return files.data_dir if files is not None else None


def read_notice(data_dir: Path | None) -> str | None:
    """The notice's text, or None when there is none to show."""
    if data_dir is None:
        return None
    path = data_dir / NOTICE_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("privacy notice unreadable path=%s error=%s", path, type(exc).__name__)
        return None
    if len(text) > MAX_NOTICE_CHARS:
        text = text[:MAX_NOTICE_CHARS].rstrip() + CUT
    return text or None


async def privacy_cmd(deps: Deps, ctx: Context, _rest: str) -> list[Reply]:
    notice = read_notice(data_dir_of(deps.kb))
    if notice is None:
        return [Reply(NO_NOTICE.format(phone=deps.hotline_phone))]
    return [Reply(f"{notice}\n\n{YOUR_RIGHTS}")]


PRIVACY = Command(
    "/privacy",
    FOR_EVERYONE,
    privacy_cmd,
    "what the hotline keeps about you, and how to get a copy or have it erased",
)
