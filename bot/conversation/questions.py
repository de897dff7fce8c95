"""The question log and answer feedback: what was asked, what the matcher made of it, and whether
the answer helped. Used by the FAQ gaps report; never stores answer text."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge import MatchResult
from bot.store.models import AnswerFeedback, Base, Person, QuestionLog, utcnow

_TABLE = Base.metadata.tables[QuestionLog.__tablename__]
_INSERT = insert(_TABLE).returning(_TABLE.c.id)  # Core, built once (see log_question)


async def log_question(
    session: AsyncSession, person: Person, channel: str, result: MatchResult
) -> QuestionLog:
    row = QuestionLog(
        person_id=person.id,
        channel=channel,
        text=result.query,
        band=result.band,
        matched_id=result.answer_id or (result.suggestions[0].id if result.suggestions else None),
        score=result.score,
        passed_on=False,
        created_at=utcnow(),
    )
    # A plain INSERT ... RETURNING rather than the unit of work: this runs for every question.
    # The row is returned detached; flows that change it later load it again (own_question).
    values = {c.key: getattr(row, c.key) for c in _TABLE.columns if c.key != "id"}
    row.id = (await session.execute(_INSERT, values)).scalar_one()
    return row


async def own_question(
    session: AsyncSession, person: Person, question_id: int
) -> QuestionLog | None:
    """The question, if it is this person's (a button press cannot reach someone else's)."""
    return await session.scalar(
        select(QuestionLog).where(QuestionLog.id == question_id, QuestionLog.person_id == person.id)
    )


async def record_feedback(
    session: AsyncSession, person: Person, question: QuestionLog, helpful: bool
) -> None:
    faq_id = question.chosen_id or question.matched_id or ""
    row = await session.scalar(
        select(AnswerFeedback).where(
            AnswerFeedback.question_id == question.id, AnswerFeedback.person_id == person.id
        )
    )
    if row is None:
        session.add(
            AnswerFeedback(
                question_id=question.id, person_id=person.id, faq_id=faq_id, helpful=helpful
            )
        )
    else:
        row.helpful = helpful
        row.faq_id = faq_id
