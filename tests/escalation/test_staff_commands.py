"""Staff help and commands sent without their reference, on both databases."""

from sqlalchemy import select

from bot.conversation import digest_commands, staff
from bot.conversation.chat_command import FOR_STAFF
from bot.core import texts
from bot.store.models import HotlineRequest
from tests.escalation.conftest import PHONE, Partnership


async def test_staff_help_lists_every_staff_command_and_members_keep_theirs(
    p: Partnership,
) -> None:
    help_text = (await p.say(p.primary, "/help")).text
    lines = help_text.splitlines()
    for command in (*staff.STAFF, *digest_commands.STAFF):
        assert command.who == FOR_STAFF
        assert f"{command.usage}: {command.help}" in lines
    names = {line.split(":", 1)[0].split()[0] for line in lines if line.startswith("/")}
    assert {c.name for c in (*staff.STAFF, *digest_commands.STAFF)} <= names
    assert {"/human", "/subscribe", "/unsubscribe", "/help"} <= names  # the members' ones too
    assert "/emergency" not in names  # for members only
    assert "/ack REF" in help_text and "/event DATE | TITLE | TEXT" in help_text

    member_help = (await p.say(p.member, "/help")).text
    intro, *member_lines, danger = member_help.splitlines()
    assert intro == texts.HELP.splitlines()[0]
    assert danger == texts.HELP.format(commands="", phone=PHONE).splitlines()[-1]
    assert [line.split(":", 1)[0] for line in member_lines] == [
        "/emergency WHAT HAPPENED",
        "/human",
        "/subscribe",
        "/unsubscribe",
        "/digest [email|chat|off]",
        "/privacy",
        "/help",
    ]


async def test_a_command_without_its_reference_says_how_to_use_it(p: Partnership) -> None:
    for command in ("/ack", "/resolve", "/note", "/reply"):
        usage = next(c.usage for c in staff.STAFF if c.name == command)
        reply = (await p.say(p.primary, command)).text
        assert reply == f"{texts.REFERENCE_USAGE.format(usage=usage)} {texts.SEE_OPEN}"
    assert (await p.say(p.primary, "/ack")).text.startswith("Usage: /ack REF, where REF is")

    await p.say(p.member, "/emergency burst pipe flooding the hall")
    other = await p.make_member("Olu Other")
    await p.say(other, "/emergency a journalist is at the gates")
    async with p.db.session() as s:
        first, second = (await s.scalars(select(HotlineRequest).order_by(HotlineRequest.id))).all()
    both = f"{first.reference}, {second.reference}"
    assert (await p.say(p.primary, "/ack")).text.endswith(
        texts.WAITING_REFERENCES.format(references=both)
    )
    await p.say(p.primary, f"/ack {second.reference}")
    assert (await p.say(p.primary, "/ack")).text.endswith(
        texts.WAITING_REFERENCES.format(references=first.reference)
    )
    for command in ("/resolve", "/note", "/reply"):
        assert (await p.say(p.primary, command)).text.endswith(
            texts.YOUR_REFERENCES.format(references=second.reference)
        )
    assert (await p.say(p.backup, "/resolve")).text.endswith(texts.SEE_OPEN)
