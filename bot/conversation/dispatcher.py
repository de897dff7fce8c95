"""The conversation core: one incoming message in, replies out, whatever the channel.

Order of business: clean and bound the text, identify the sender, then a button action, a
command, or a question (urgency check, open requests, FAQ). `handle` is the one error boundary
per message: business errors carry their own safe text, anything else is logged with
ids and answered with a fixed apology.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import commands, staff
from bot.conversation.chat_command import Audience
from bot.conversation.context import Context, Deps
from bot.conversation.emergency import cant_wait, is_member, raise_emergency, urgent_prompt
from bot.conversation.linking import (
    first_delivery,
    invite_code_in,
    link_from_profile,
    link_with_code,
    profile_email,
)
from bot.conversation.member_commands import EMERGENCY_COMMAND
from bot.conversation.open_requests import add_or_new, attach, replied_request, still_open_note
from bot.conversation.pass_on import pass_on, passed_on
from bot.conversation.questions import log_question, own_question, record_feedback
from bot.conversation.ratelimit import RateLimiter
from bot.core import texts
from bot.core.errors import StoreUnavailableError, UserFacingError
from bot.core.ports import ProfileLookup
from bot.core.types import Band, Button, IncomingMessage, MenuCommand, Reply
from bot.delivery.outbox import QUEUED
from bot.directory.identities import identify_with_open_request
from bot.escalation import request_for_question
from bot.escalation.hotline import open_requests_of
from bot.escalation.rota_store import current_rota
from bot.escalation.urgency import Urgency
from bot.knowledge import MatchResult
from bot.store.db import Database
from bot.store.models import HotlineRequest, Person, QuestionLog, RequestKind
from bot.teaching.live import live_of

log = logging.getLogger(__name__)

SUGGESTION_LABEL_CHARS = 60


@dataclass(frozen=True)
class DispatcherConfig:
    """How the dispatcher takes messages in (the phone numbers it gives are in Deps)."""

    max_message_chars: int = 4000
    rate_limit: int = 20
    rate_window_s: float = 60.0


def clean_text(text: str) -> str:
    """Drop control and format characters (keeping line breaks and tabs) and outer white space."""
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return "".join(kept).strip()


Handler = Callable[[Context, str], Awaitable[list[Reply]]]  # a button action's handler


@dataclass(frozen=True, slots=True)
class Reading:
    """What the knowledge base and the urgency detector make of a question: worked out before
    the transaction, so that no database lock is held while they run."""

    result: MatchResult
    urgency: Urgency


class Dispatcher:
    def __init__(
        self,
        db: Database,
        deps: Deps,
        config: DispatcherConfig,
        profiles: Mapping[str, ProfileLookup] | None = None,
    ) -> None:
        self.db = db
        # Learned phrasings count at once: the knowledge base is the live holder (bot.teaching).
        self.kb = live_of(deps.kb)
        self.deps = replace(deps, kb=self.kb)
        self.config = config
        self.limiter = RateLimiter(config.rate_limit, config.rate_window_s)
        # Platforms that vouch for their users' emails (Slack's users.info).
        self.profiles: Mapping[str, ProfileLookup] = profiles or {}
        self.handled: Counter[str] = Counter()  # per channel, for /metrics
        self._actions: dict[str, Handler] = {
            "ans": self._act_answer,
            "fb": self._act_feedback,
            "pass": self._act_pass_on,
            "nopass": self._act_no_pass,
            "urg": self._act_urgent,
            "add": self._act_add,
            "new": self._act_new,
            "wake": self._act_wake,
        }

    def menu(self, channel: str) -> tuple[MenuCommand, ...]:
        """The chat commands the channel's command menu offers (Telegram's command list,
        Slack's usage hint), from their declarations."""
        return commands.menu(channel)

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        self.handled[message.channel] += 1
        queued: list[bool] = []
        try:
            replies = await self._handle(message, queued)
        except UserFacingError as exc:
            return [Reply(str(exc))]
        except (StoreUnavailableError, SQLAlchemyError, OSError):
            log.exception("store failure channel=%s chat=%s", message.channel, message.chat_id)
            return [Reply(texts.STORE_DOWN.format(phone=self.deps.hotline_phone))]
        except Exception:
            log.exception("message failed channel=%s chat=%s", message.channel, message.chat_id)
            return [Reply(texts.APOLOGY.format(phone=self.deps.hotline_phone))]
        if queued:
            self.deps.on_queued()  # committed: the sender loop can take it now
        return replies

    async def _handle(self, message: IncomingMessage, queued: list[bool]) -> list[Reply]:
        text = clean_text(message.text or "")
        if message.action is None and not text:
            return [Reply(texts.EMPTY)]
        if not self.limiter.allow(f"{message.channel}:{message.sender_ref}"):
            return [Reply(texts.SLOW_DOWN)]
        await self._embed_first(message, text)
        await self._refresh_knowledge()
        email = await self._profile_email(message, text)
        reading = self._read(message, text)

        async def work(session: AsyncSession) -> list[Reply]:
            try:
                return await self._in_session(session, message, text, email, reading)
            finally:
                if session.info.get(QUEUED):
                    queued.append(True)

        return await self.db.transaction(work)

    def _read(self, message: IncomingMessage, text: str) -> Reading | None:
        """A question's reading; None for a button, a command, an invitation code or a message
        too long to take."""
        if (
            message.action is not None
            or text.startswith("/")
            or len(text) > self.config.max_message_chars
            or invite_code_in(text) is not None
        ):
            return None
        return Reading(self.kb.match(text), self.deps.urgency.detect(text))

    async def _refresh_knowledge(self) -> None:
        """Phrasings taught in another process: a version check at most every few seconds."""
        try:
            await self.kb.refresh(self.db)
        except (StoreUnavailableError, SQLAlchemyError, OSError):
            # The message's own transaction meets the same fault and says so; until then the
            # phrasings already loaded stand.
            log.warning("learned phrasings not refreshed", exc_info=True)

    async def _embed_first(self, message: IncomingMessage, text: str) -> None:
        """A question's embedding (about 10 ms of CPU) is computed before the transaction, off
        the event loop: the matcher and the urgency detector then find it in the embedder's
        cache, and neither the loop nor SQLite's write turn waits on the model meanwhile."""
        embedder = self.deps.embedder
        if embedder is None or message.action is not None or text.startswith("/"):
            return
        if len(text) <= self.config.max_message_chars:
            await asyncio.to_thread(embedder.embed_one, text)

    async def _profile_email(self, message: IncomingMessage, text: str) -> str | None:
        """An unknown sender's email from a platform that vouches for it, asked before the
        transaction: the platform may take seconds, and SQLite's write turn must not wait."""
        lookup = self.profiles.get(message.channel)
        if lookup is None or invite_code_in(text) is not None:
            return None
        return await profile_email(self.db, message, lookup)

    async def _in_session(
        self,
        session: AsyncSession,
        message: IncomingMessage,
        text: str,
        email: str | None,
        reading: Reading | None,
    ) -> list[Reply]:
        if message.update_id is not None and not await first_delivery(session, message):
            log.info("redelivery dropped channel=%s update=%s", message.channel, message.update_id)
            return []
        now = self.deps.clock()
        code = invite_code_in(text)
        if code is not None:
            return [await self._link_with_code(session, message, code, now)]
        found = await identify_with_open_request(session, message.channel, message.sender_ref)
        person, may_have_open = found if found is not None else (None, True)
        if person is None:
            person = await self._link_from_profile(session, message, email)
        if person is None:
            log.info("unknown sender channel=%s", message.channel)
            if text.lower().startswith(EMERGENCY_COMMAND):
                return [Reply(texts.UNKNOWN_SENDER_EMERGENCY.format(phone=self.deps.hotline_phone))]
            return [Reply(texts.UNKNOWN_SENDER.format(phone=self.deps.hotline_phone))]
        if len(text) > self.config.max_message_chars:
            return [
                Reply(texts.TOO_LONG.format(length=len(text), limit=self.config.max_message_chars))
            ]
        ctx = Context(session, person, message, now, may_have_open)
        if message.action is not None:
            return await self._on_action(ctx, message.action)
        if text.startswith("/"):
            return await self._on_command(ctx, text)
        assert reading is not None  # a question: read before the transaction
        return await self._on_question(ctx, text, reading)

    async def _link_with_code(
        self, session: AsyncSession, message: IncomingMessage, code: str, now: datetime
    ) -> Reply:
        person = await link_with_code(session, message, code, now)
        if person is None:
            return Reply(texts.BAD_INVITE_CODE.format(phone=self.deps.hotline_phone))
        log.info("account linked by code channel=%s person=%s", message.channel, person.id)
        return Reply(
            texts.LINKED.format(name=person.name.split()[0])
            + " "
            + texts.HELP.format(
                commands=commands.help_lines(Audience.MEMBER), phone=self.deps.hotline_phone
            )
        )

    async def _link_from_profile(
        self, session: AsyncSession, message: IncomingMessage, email: str | None
    ) -> Person | None:
        if not email:
            return None
        person = await link_from_profile(session, message, email)
        if person is not None:
            log.info("account linked by profile channel=%s person=%s", message.channel, person.id)
        return person

    async def _on_command(self, ctx: Context, text: str) -> list[Reply]:
        command, _, rest = text.partition(" ")
        name = command.lower().split("@", 1)[0]
        declared = commands.lookup(name)
        if declared is None:
            unknown = texts.UNKNOWN_COMMAND.format(
                command=command[:40],
                commands=commands.help_lines(Audience.MEMBER),
                phone=self.deps.hotline_phone,
            )
            return [Reply(unknown)]
        if not declared.allows(ctx.person):
            return [Reply(declared.refusal())]
        return await declared.run(self.deps, ctx, rest.strip())

    # Questions

    async def _on_question(self, ctx: Context, text: str, reading: Reading) -> list[Reply]:
        result = reading.result
        question = await log_question(ctx.session, ctx.person, ctx.message.channel, result)
        log.info("question id=%s band=%s match=%s", question.id, result.band, question.matched_id)
        if not is_member(ctx.person):
            return [self.reply_for(result, question)]
        # Every message is read for urgency, whatever is open: an open request never swallows
        # a new emergency.
        open_requests = (
            await open_requests_of(ctx.session, ctx.person) if ctx.may_have_open_request else []
        )
        urgency = reading.urgency
        if urgency.urgent and await self._is_new_emergency(ctx, urgency.category, open_requests):
            return [urgent_prompt(question, open_requests)]
        if not open_requests:
            return [self.reply_for(result, question)]
        replied = await replied_request(ctx.session, ctx.message, open_requests)
        if replied is not None:
            return [await self._attach(ctx, replied, text)]
        if result.band is Band.ANSWER:
            reply = self.reply_for(result, question)
            return [Reply(f"{reply.text}\n\n{still_open_note(open_requests)}", reply.buttons)]
        return [add_or_new(question, open_requests)]

    async def _is_new_emergency(
        self, ctx: Context, category: str | None, open_requests: list[HotlineRequest]
    ) -> bool:
        """Urgent in a category no open request has, or in one that wakes someone at once
        (the rota's list): a new emergency, never a follow-up by guesswork."""
        if category not in {r.category for r in open_requests}:
            return True
        rota = await current_rota(ctx.session)
        return rota is None or rota.wakes(category)

    async def _attach(self, ctx: Context, request: HotlineRequest, text: str) -> Reply:
        return await attach(ctx.session, request, ctx.person, text, ctx.now, self.deps.escalation)

    def reply_for(self, result: MatchResult, question: QuestionLog) -> Reply:
        """What a member is sent for a matched question (the console's Try shows it too)."""
        if result.band is Band.ANSWER and result.answer_id:
            return self._answer(result.answer_id, question.id)
        if result.band is Band.SUGGEST:
            buttons = [
                Button(self._label(s.id), f"ans:{question.id}:{s.id}")
                for s in result.suggestions
                if self.kb.entry(s.id) is not None
            ]
            buttons.append(Button(texts.NONE_OF_THESE, f"pass:{question.id}"))
            return Reply(texts.SUGGEST, tuple(buttons))
        return Reply(
            texts.UNKNOWN_QUESTION,
            (
                Button(texts.SEND_TO_TEAM, f"pass:{question.id}"),
                Button(texts.NO_THANKS, f"nopass:{question.id}"),
            ),
        )

    def _label(self, faq_id: str) -> str:
        entry = self.kb.entry(faq_id)
        question = entry.question if entry else faq_id
        if len(question) <= SUGGESTION_LABEL_CHARS:
            return question
        return question[: SUGGESTION_LABEL_CHARS - 1].rsplit(" ", 1)[0] + "…"

    def _answer(self, faq_id: str, question_id: int) -> Reply:
        entry = self.kb.entry(faq_id)
        if entry is None:
            return Reply(texts.STALE_BUTTON)
        return Reply(
            f"{entry.answer}\n\n{texts.ANSWER_FOOTER}",
            (
                Button(texts.HELPFUL, f"fb:{question_id}:1"),
                Button(texts.NOT_HELPFUL, f"fb:{question_id}:0"),
            ),
        )

    # Button actions: "<verb>:<id>[:<argument>]"

    async def _on_action(self, ctx: Context, action: str) -> list[Reply]:
        verb, _, rest = action.partition(":")
        handler = self._actions.get(verb)
        if handler is not None:
            return await handler(ctx, rest)
        staff_button = staff.BUTTONS.get(verb)
        if staff_button is not None:
            if not ctx.person.is_staff:
                return [Reply(texts.STAFF_ONLY.format(command=staff.BUTTON_NAMES[verb]))]
            return await staff_button(self.deps, ctx, rest)
        return [Reply(texts.STALE_BUTTON)]

    async def _own_request(self, ctx: Context, raw_id: str) -> HotlineRequest:
        request = await ctx.session.get(HotlineRequest, int(raw_id)) if raw_id.isdigit() else None
        if request is None or request.person_id != ctx.person.id:
            raise UserFacingError(texts.STALE_BUTTON)
        return request

    async def _question(self, ctx: Context, raw_id: str) -> QuestionLog:
        if not raw_id.isdigit():
            raise UserFacingError(texts.STALE_BUTTON)
        question = await own_question(ctx.session, ctx.person, int(raw_id))
        if question is None:
            raise UserFacingError(texts.STALE_BUTTON)
        return question

    async def _act_answer(self, ctx: Context, args: str) -> list[Reply]:
        raw_id, _, faq_id = args.partition(":")
        question = await self._question(ctx, raw_id)
        if self.kb.entry(faq_id) is None:
            return [Reply(texts.STALE_BUTTON)]
        question.chosen_id = faq_id
        return [self._answer(faq_id, question.id)]

    async def _act_feedback(self, ctx: Context, args: str) -> list[Reply]:
        raw_id, _, flag = args.partition(":")
        question = await self._question(ctx, raw_id)
        helpful = flag == "1"
        await record_feedback(ctx.session, ctx.person, question, helpful)
        if helpful:
            return [Reply(texts.THANKS_HELPFUL, edit=True)]
        return [
            Reply(
                texts.THANKS_NOT_HELPFUL,
                (
                    Button(texts.SEND_TO_TEAM, f"pass:{question.id}"),
                    Button(texts.NO_THANKS, f"nopass:{question.id}"),
                ),
                edit=True,
            )
        ]

    async def _act_pass_on(self, ctx: Context, args: str) -> list[Reply]:
        question = await self._question(ctx, args)
        if question.passed_on:
            earlier = await request_for_question(ctx.session, question.id)
            if earlier is not None:
                return [replace(passed_on(self.deps, earlier.reference), edit=True)]
        return [replace(await pass_on(self.deps, ctx, question.text, question), edit=True)]

    async def _act_no_pass(self, ctx: Context, args: str) -> list[Reply]:
        await self._question(ctx, args)
        return [Reply(texts.OK_NOT_PASSED, edit=True)]

    async def _act_urgent(self, ctx: Context, args: str) -> list[Reply]:
        raw_id, _, choice = args.partition(":")
        question = await self._question(ctx, raw_id)
        if choice == "y":
            earlier = await request_for_question(ctx.session, question.id)
            if earlier is not None:  # the button pressed twice: one emergency, not two
                return [Reply(texts.ALREADY_RAISED.format(reference=earlier.reference))]
            return [
                Reply(texts.CHOSE_ALERT, edit=True),
                # The member chose a new emergency: never merged into one already open.
                *await raise_emergency(
                    self.deps, ctx, question.text, join_recent=False, question_id=question.id
                ),
            ]
        return [
            Reply(texts.CHOSE_ANSWER, edit=True),
            self.reply_for(self.kb.match(question.text), question),
        ]

    async def _act_add(self, ctx: Context, args: str) -> list[Reply]:
        raw_id, _, raw_request = args.partition(":")
        question = await self._question(ctx, raw_id)
        request = await self._own_request(ctx, raw_request)
        if not request.is_open:
            return [
                Reply(texts.NO_LONGER_OPEN.format(reference=request.reference), edit=True),
                self.reply_for(self.kb.match(question.text), question),
            ]
        return [replace(await self._attach(ctx, request, question.text), edit=True)]

    async def _act_new(self, ctx: Context, args: str) -> list[Reply]:
        question = await self._question(ctx, args)
        chosen = Reply(texts.CHOSE_NEW, edit=True)
        if self.deps.urgency.detect(question.text).urgent:
            return [chosen, urgent_prompt(question)]
        return [chosen, self.reply_for(self.kb.match(question.text), question)]

    async def _act_wake(self, ctx: Context, args: str) -> list[Reply]:
        request = await self._own_request(ctx, args)
        if request.kind is not RequestKind.EMERGENCY:
            return [Reply(texts.STALE_BUTTON)]
        return await cant_wait(self.deps, ctx, request)
