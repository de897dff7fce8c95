"""The conversation core: one incoming message in, replies out, whatever the channel.

Order of business for a message: clean and bound the text, identify the sender, then a button
action, a command, or a question for the FAQ matcher. `handle` is the one error boundary per
message (STYLE.md 6): business errors carry their own safe text, anything else is logged with ids
and answered with a fixed apology.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import texts
from bot.conversation.questions import log_question, own_question, record_feedback
from bot.conversation.ratelimit import RateLimiter
from bot.conversation.types import Button, IncomingMessage, Reply
from bot.directory import identify
from bot.errors import StoreUnavailableError, UserFacingError
from bot.escalation import open_support_request, request_for_question
from bot.knowledge import Band, KnowledgeBase, MatchResult
from bot.store.db import Database
from bot.store.models import Person, QuestionLog

log = logging.getLogger(__name__)

SUGGESTION_LABEL_CHARS = 60


@dataclass(frozen=True)
class DispatcherConfig:
    hotline_phone: str
    max_message_chars: int = 4000
    rate_limit: int = 20
    rate_window_s: float = 60.0


def clean_text(text: str) -> str:
    """Drop control and format characters (keeping line breaks and tabs) and outer white space."""
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return "".join(kept).strip()


@dataclass(frozen=True)
class _Context:
    session: AsyncSession
    person: Person
    message: IncomingMessage


Handler = Callable[[_Context, str], Awaitable[list[Reply]]]


class Dispatcher:
    def __init__(self, db: Database, kb: KnowledgeBase, config: DispatcherConfig) -> None:
        self.db = db
        self.kb = kb
        self.config = config
        self.limiter = RateLimiter(config.rate_limit, config.rate_window_s)
        self._commands: dict[str, Handler] = {
            "/start": self._cmd_start,
            "/help": self._cmd_help,
            "/human": self._cmd_human,
        }
        self._actions: dict[str, Handler] = {
            "ans": self._act_answer,
            "fb": self._act_feedback,
            "pass": self._act_pass_on,
            "nopass": self._act_no_pass,
        }

    async def handle(self, message: IncomingMessage) -> list[Reply]:
        try:
            return await self._handle(message)
        except UserFacingError as exc:
            return [Reply(str(exc))]
        except (StoreUnavailableError, SQLAlchemyError, OSError):
            log.exception("store failure channel=%s chat=%s", message.channel, message.chat_id)
            return [Reply(texts.STORE_DOWN.format(phone=self.config.hotline_phone))]
        except Exception:
            log.exception("message failed channel=%s chat=%s", message.channel, message.chat_id)
            return [Reply(texts.APOLOGY.format(phone=self.config.hotline_phone))]

    async def _handle(self, message: IncomingMessage) -> list[Reply]:
        text = clean_text(message.text or "")
        if message.action is None and not text:
            return [Reply(texts.EMPTY)]
        async with self.db.session() as session:
            person = await identify(session, message.channel, message.sender_ref)
            if person is None:
                log.info("unknown sender channel=%s", message.channel)
                return [Reply(texts.UNKNOWN_SENDER.format(phone=self.config.hotline_phone))]
            if not self.limiter.allow(f"{message.channel}:{message.sender_ref}"):
                return [Reply(texts.SLOW_DOWN)]
            if len(text) > self.config.max_message_chars:
                return [
                    Reply(
                        texts.TOO_LONG.format(length=len(text), limit=self.config.max_message_chars)
                    )
                ]
            ctx = _Context(session, person, message)
            if message.action is not None:
                return await self._on_action(ctx, message.action)
            if text.startswith("/"):
                command, _, rest = text.partition(" ")
                handler = self._commands.get(command.lower().split("@", 1)[0])
                if handler is None:
                    return [
                        Reply(
                            texts.UNKNOWN_COMMAND.format(
                                command=command[:40], phone=self.config.hotline_phone
                            )
                        )
                    ]
                return await handler(ctx, rest.strip())
            return await self._on_question(ctx, text)

    # Questions

    async def _on_question(self, ctx: _Context, text: str) -> list[Reply]:
        result = self.kb.match(text)
        question = await log_question(ctx.session, ctx.person, ctx.message.channel, result)
        log.info("question id=%s band=%s match=%s", question.id, result.band, question.matched_id)
        return [self._reply_for(result, question)]

    def _reply_for(self, result: MatchResult, question: QuestionLog) -> Reply:
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

    # Commands

    async def _cmd_start(self, ctx: _Context, _rest: str) -> list[Reply]:
        return [
            Reply(
                texts.WELCOME.format(
                    name=ctx.person.name.split()[0], phone=self.config.hotline_phone
                )
            )
        ]

    async def _cmd_help(self, _ctx: _Context, _rest: str) -> list[Reply]:
        return [Reply(texts.HELP.format(phone=self.config.hotline_phone))]

    async def _cmd_human(self, ctx: _Context, rest: str) -> list[Reply]:
        return [await self._pass_on(ctx, rest or texts.HUMAN_NO_TEXT, None)]

    async def _pass_on(self, ctx: _Context, text: str, question: QuestionLog | None) -> Reply:
        request = await open_support_request(
            ctx.session,
            ctx.person,
            ctx.message.channel,
            ctx.message.chat_id,
            text,
            question_id=question.id if question else None,
        )
        if question is not None:
            question.passed_on = True
        await ctx.session.commit()  # the reference is only shown once it is durable
        log.info("support request opened id=%s", request.id)
        return Reply(
            texts.PASSED_ON.format(reference=request.reference, phone=self.config.hotline_phone)
        )

    # Button actions: "<verb>:<question id>[:<argument>]"

    async def _on_action(self, ctx: _Context, action: str) -> list[Reply]:
        verb, _, rest = action.partition(":")
        handler = self._actions.get(verb)
        if handler is None:
            return [Reply(texts.STALE_BUTTON)]
        return await handler(ctx, rest)

    async def _question(self, ctx: _Context, raw_id: str) -> QuestionLog:
        if not raw_id.isdigit():
            raise UserFacingError(texts.STALE_BUTTON)
        question = await own_question(ctx.session, ctx.person, int(raw_id))
        if question is None:
            raise UserFacingError(texts.STALE_BUTTON)
        return question

    async def _act_answer(self, ctx: _Context, args: str) -> list[Reply]:
        raw_id, _, faq_id = args.partition(":")
        question = await self._question(ctx, raw_id)
        if self.kb.entry(faq_id) is None:
            return [Reply(texts.STALE_BUTTON)]
        question.chosen_id = faq_id
        return [self._answer(faq_id, question.id)]

    async def _act_feedback(self, ctx: _Context, args: str) -> list[Reply]:
        raw_id, _, flag = args.partition(":")
        question = await self._question(ctx, raw_id)
        helpful = flag == "1"
        await record_feedback(ctx.session, ctx.person, question, helpful)
        if helpful:
            return [Reply(texts.THANKS_HELPFUL)]
        return [
            Reply(
                texts.THANKS_NOT_HELPFUL,
                (
                    Button(texts.SEND_TO_TEAM, f"pass:{question.id}"),
                    Button(texts.NO_THANKS, f"nopass:{question.id}"),
                ),
            )
        ]

    async def _act_pass_on(self, ctx: _Context, args: str) -> list[Reply]:
        question = await self._question(ctx, args)
        if question.passed_on:
            earlier = await request_for_question(ctx.session, question.id)
            if earlier is not None:
                return [
                    Reply(
                        texts.PASSED_ON.format(
                            reference=earlier.reference, phone=self.config.hotline_phone
                        )
                    )
                ]
        return [await self._pass_on(ctx, question.text, question)]

    async def _act_no_pass(self, ctx: _Context, args: str) -> list[Reply]:
        await self._question(ctx, args)
        return [Reply(texts.OK_NOT_PASSED)]
