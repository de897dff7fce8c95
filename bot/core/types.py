"""Transport-neutral message types: every channel adapter speaks these and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# Telegram's callback_data holds at most 64 bytes; every action string must fit.
MAX_ACTION_BYTES = 64


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str

    def __post_init__(self) -> None:
        if len(self.action.encode()) > MAX_ACTION_BYTES:
            raise ValueError(
                f"button action longer than {MAX_ACTION_BYTES} bytes: {self.action[:20]}..."
            )


@dataclass(frozen=True, slots=True)
class Reply:
    """Plain text (links as [label](url)) and optional buttons; adapters render it.

    `edit` marks the answer to a button press that belongs on the pressed message itself: the
    adapter appends `text` to that message as a status line and replaces its buttons with
    `buttons` (so a one-shot choice cannot be pressed twice). Channels that cannot edit show it
    as a new message.
    """

    text: str
    buttons: tuple[Button, ...] = field(default=())
    edit: bool = False


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A message or a button press from one person in one chat.

    `sender_ref` is the platform's id for the person (Telegram user id, Slack user id, or the
    email given to the console); `action` is set instead of `text` when a button was pressed.
    `private_chat_id` is where the person can be reached alone (their DM), when `chat_id` is a
    group or channel; `update_id` is the platform's delivery id, so a redelivery is dropped.

    `reply_to` is the platform's ref of the message this one answers (Telegram: the replied-to
    message id; Slack: "channel/ts" of the thread it was typed in), with `reply_to_text` when the
    platform gives the replied-to text; `thread_ref` is where the bot's answers to this message
    appear (Slack: "channel/ts" of the thread root), so that a later reply there can be traced
    back to the request it opened.
    """

    channel: str
    chat_id: str
    sender_ref: str
    text: str | None = None
    action: str | None = None
    message_id: str | None = None
    private_chat_id: str | None = None
    update_id: str | None = None
    reply_to: str | None = None
    reply_to_text: str | None = None
    thread_ref: str | None = None

    @property
    def reach_id(self) -> str:
        return self.private_chat_id or self.chat_id


@dataclass(frozen=True, slots=True)
class MenuCommand:
    """A chat command as a platform's command menu offers it (Telegram's command list, Slack's
    usage hint), from its declaration (bot/conversation/commands.py): its name without the
    slash, what follows it ("REF NOTE", or empty), one line on what it does, and whether members
    may use it (else it is for staff)."""

    name: str
    args: str
    summary: str
    for_members: bool


class Band(StrEnum):
    """What the FAQ matcher made of a question: an answer, suggestions, or nothing it knows."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    UNKNOWN = "unknown"
