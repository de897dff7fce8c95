"""/privacy (bot/conversation/privacy_command.py): the partnership's notice from DATA_DIR with how
to ask for a copy or erasure, for members and staff; a missing notice answered briefly; an edited
one shown at once; a long one cut to fit a chat message."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.conversation.chat_command import Audience
from bot.conversation.commands import help_lines
from bot.conversation.context import Deps
from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.conversation.privacy_command import (
    CUT,
    MAX_NOTICE_CHARS,
    NO_NOTICE,
    NOTICE_FILE,
    YOUR_RIGHTS,
    data_dir_of,
)
from bot.core.types import IncomingMessage
from bot.knowledge import KnowledgeBase
from bot.knowledge.loader import FaqFiles
from bot.store.models import Person
from bot.teaching.live import LiveKnowledge
from tests.conftest import DATA
from tests.escalation.conftest import PHONE, Partnership
from tests.escalation.conftest import partnership as partnership  # the fixture "p"


async def _privacy(p: Partnership, person: Person, deps: Deps | None = None) -> str:
    dispatcher = p.dispatcher if deps is None else Dispatcher(p.db, deps, DispatcherConfig())
    message = IncomingMessage("console", person.email, person.email, text="/privacy")
    replies = await dispatcher.handle(message)
    assert len(replies) == 1, replies
    return replies[0].text


def _in(p: Partnership, folder: Path) -> Deps:
    """The partnership's services with the knowledge base loaded from `folder`."""
    assert isinstance(p.deps.kb, KnowledgeBase)
    return replace(p.deps, kb=replace(p.deps.kb, files=FaqFiles(folder, ())))


async def test_everyone_is_shown_the_notice_and_how_to_ask(p: Partnership) -> None:
    notice = (DATA / NOTICE_FILE).read_text(encoding="utf-8").strip()
    assert "data protection officer" in notice  # the example names where to write in
    for person in (p.member, p.primary):
        assert await _privacy(p, person) == f"{notice}\n\n{YOUR_RIGHTS}"
    for audience in Audience:
        assert "/privacy: what the hotline keeps about you" in help_lines(audience)


async def test_a_missing_notice_is_answered_briefly(p: Partnership, tmp_path: Path) -> None:
    answer = await _privacy(p, p.member, _in(p, tmp_path))
    assert answer == NO_NOTICE.format(phone=PHONE)
    assert "Partnership office" in answer and PHONE in answer
    assert isinstance(p.deps.kb, KnowledgeBase)
    built = replace(p.deps, kb=replace(p.deps.kb, files=None))  # built in memory
    assert await _privacy(p, p.member, built) == answer
    (tmp_path / NOTICE_FILE).write_bytes(b"\xff\xfe not UTF-8")  # unreadable: the same
    assert await _privacy(p, p.member, _in(p, tmp_path)) == answer


async def test_an_edited_notice_shows_at_once_and_a_long_one_is_cut(
    p: Partnership, tmp_path: Path
) -> None:
    deps = _in(p, tmp_path)
    (tmp_path / NOTICE_FILE).write_text("Our notice, first edition.\n", encoding="utf-8")
    assert (await _privacy(p, p.member, deps)).startswith("Our notice, first edition.\n\n")
    (tmp_path / NOTICE_FILE).write_text("Our notice, second edition.", encoding="utf-8")
    assert (await _privacy(p, p.member, deps)).startswith("Our notice, second edition.\n\n")

    (tmp_path / NOTICE_FILE).write_text("word " * 2000, encoding="utf-8")
    long = await _privacy(p, p.member, deps)
    assert long.endswith(f"{CUT}\n\n{YOUR_RIGHTS}")
    assert len(long) <= MAX_NOTICE_CHARS + len(CUT) + len(YOUR_RIGHTS) + 2


def test_the_data_folder_is_the_knowledge_bases(kb: KnowledgeBase) -> None:
    assert data_dir_of(kb) == DATA
    assert data_dir_of(LiveKnowledge(kb)) == DATA
    assert data_dir_of(replace(kb, files=None)) is None
