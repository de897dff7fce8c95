"""Database tables (SQLAlchemy 2 declarative). Times are stored in UTC."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from bot.core.types import Band

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware column; SQLite hands back naive values, so they are read as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC with tzinfo")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Role(enum.StrEnum):
    MEMBER = "member"
    STAFF = "staff"
    ADMIN = "admin"


class RequestKind(enum.StrEnum):
    SUPPORT = "support"
    EMERGENCY = "emergency"


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=20, values_callable=lambda c: [m.value for m in c]
    )


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phase: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    people: Mapped[list[Person]] = relationship(back_populates="school")


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    job_title: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    # Staff working hours in the partnership's timezone, e.g. "Mon-Fri 08:00-17:00".
    working_hours: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Members are subscribed to the weekly digest when they link a chat account.
    digest_subscribed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How the digest reaches them: None (the default rule: their chat account when they have a
    # reachable one, else email), "chat", "email", or "off" (unsubscribed; digest_subscribed is
    # then False). bot/digest/channels.py keeps the two coherent.
    digest_channel: Mapped[str | None] = mapped_column(String(10))
    # Staff: minutes after an unacknowledged chat ping that it is also emailed (None: the
    # deployment's STAFF_EMAIL_AFTER_MIN). bot/escalation/email_pings.py.
    email_after_minutes: Mapped[int | None] = mapped_column(Integer)
    # Staff with a safeguarding role read safeguarding and allegation requests in full
    # (bot/privacy/access.py); others see the reference, school, status and times.
    safeguarding: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Erased (bot/privacy/erase.py): the row stays, anonymised, so their requests still count.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    school: Mapped[School | None] = relationship(back_populates="people")
    identities: Mapped[list[Identity]] = relationship(back_populates="person")

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)


class Identity(Base):
    """A chat account (channel + the platform's user id) linked to a person."""

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_identities_channel_external"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(120))
    chat_id: Mapped[str | None] = mapped_column(String(120))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person] = relationship(back_populates="identities")


class QuestionLog(Base):
    """Every question asked, with what the matcher made of it (never a copy of the answer)."""

    __tablename__ = "question_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    band: Mapped[Band] = mapped_column(_enum(Band, "band"))
    matched_id: Mapped[str | None] = mapped_column(String(100))
    # the suggestion the person picked, when the matcher was unsure
    chosen_id: Mapped[str | None] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    passed_on: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the text was replaced under the retention policy or an erasure (the band, the match
    # and the time stay, so the counts stay true).
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AnswerFeedback(Base):
    __tablename__ = "answer_feedback"
    __table_args__ = (
        UniqueConstraint("question_id", "person_id", name="uq_answer_feedback_question_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question_log.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    faq_id: Mapped[str] = mapped_column(String(100))
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LearnedPhrasing(Base):
    """A member's wording that staff taught as a phrasing of an FAQ entry: added to the entry's
    alternatives in every process until the office folds it into data/faq/. `text_key` is the
    SHA-256 of the normalised text (any length fits the unique index)."""

    __tablename__ = "learned_phrasings"
    __table_args__ = (
        UniqueConstraint("entry_id", "text_key", name="uq_learned_phrasings_entry_text"),
        # ids never reused, so (count, max id) changes whenever the set does
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text)
    text_key: Mapped[str] = mapped_column(String(64))
    taught_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )  # None when taught from the command line
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_log.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HotlineRequest(Base):
    """A request for a person: `support` (a reply when someone can) or `emergency` (escalated)."""

    __tablename__ = "hotline_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    kind: Mapped[RequestKind] = mapped_column(_enum(RequestKind, "request_kind"))
    status: Mapped[RequestStatus] = mapped_column(
        _enum(RequestStatus, "request_status"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(120))
    # Where the bot answered the message that opened it (a Slack thread), so that a reply
    # typed there is read as a follow-up of this request.
    thread_ref: Mapped[str | None] = mapped_column(String(120))
    category: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("question_log.id", ondelete="SET NULL")
    )
    # Escalation state: timers are columns, never in-memory jobs (docs/architecture.md, Storage).
    # `level` is the chain step last pinged (from 1); `chain` the chain copied when escalation
    # started (bot/escalation/chains.py); `repeats` how often its last step was pinged again.
    level: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    chain: Mapped[str | None] = mapped_column(Text)
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # A legal hold (bot/privacy/holds.py): never redacted by the retention policy while set.
    hold_reason: Mapped[str | None] = mapped_column(Text)
    hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hold_by: Mapped[str | None] = mapped_column(String(254))
    # When its texts (the request's, its events' notes and replies) were replaced by the
    # retention policy or an erasure; the row, times, category and school stay.
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    school: Mapped[School | None] = relationship()
    acknowledged_by: Mapped[Person | None] = relationship(foreign_keys=[acknowledged_by_id])

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def is_open(self) -> bool:
        return self.status is not RequestStatus.RESOLVED


class RequestEvent(Base):
    """The timeline of a request: every step and every failure, so it explains itself."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("hotline_requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    # Final: no longer wanted (e.g. a digest for someone who unsubscribed before it went out).
    CANCELLED = "cancelled"


class OutboundMessage(Base):
    """A message to someone other than the sender: written first, sent after commit, retried."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(120))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("identities.id", ondelete="SET NULL")
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("hotline_requests.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[label, action], ...]
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus, "outbox_status"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_ref: Mapped[str | None] = mapped_column(String(120))
    # Set when this row edits an earlier message in place (its platform id) instead of sending.
    edit_ref: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RotaVersion(Base):
    """An imported rota document; the newest is in force."""

    __tablename__ = "rota_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)  # Rota.to_json() as JSON text
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RotaOverride(Base):
    """A swap or cover: this person takes a role for a window."""

    __tablename__ = "rota_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person] = relationship()


class InviteCode(Base):
    """A one-time code that links a chat account to a person; only its SHA-256 is stored."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by: Mapped[str | None] = mapped_column(String(160))  # "channel:user id"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    person: Mapped[Person] = relationship()


class ProcessedUpdate(Base):
    """A platform delivery already handled (Slack event_id, Telegram update_id): redeliveries
    are dropped."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


# The weekly digest


class ContentKind(enum.StrEnum):
    NEWS = "news"
    EVENT = "event"


class ContentItem(Base):
    """A news item or an event for the weekly digest, from a file, the CLI or a staff chat.

    `slug` is stable (the file's `id`), so importing the same file again updates in place.
    An empty `phases` / `roles` means every phase / role (comma-separated otherwise).
    """

    __tablename__ = "content_items"
    __table_args__ = (UniqueConstraint("kind", "slug", name="uq_content_items_kind_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ContentKind] = mapped_column(_enum(ContentKind, "content_kind"))
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link_url: Mapped[str | None] = mapped_column(String(500))
    link_label: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200))
    # Events: when it happens; all-day events start at local midnight.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    # The publish window: shown from `publish_from` (None: at once) until `publish_until`.
    publish_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    phases: Mapped[str] = mapped_column(String(200), default="")
    roles: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Withdrawn by staff (`hotline news withdraw`, the console): in no digest composed after
    # this; digests already sent are untouched. Kept apart from the publish window, so a
    # withdrawn item reads as withdrawn and importing its file again does not bring it back.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FaqVersion(Base):
    """What each FAQ entry looked like when last seen, so "added or changed since the last
    digest" survives reloads. `changed_at` is None for entries present at the first sync."""

    __tablename__ = "faq_versions"

    faq_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class DigestKind(enum.StrEnum):
    MEMBER = "member"
    STAFF = "staff"


class DigestRunStatus(enum.StrEnum):
    PREPARING = "preparing"  # composing and queueing deliveries, a batch of people at a time
    SENDING = "sending"  # every delivery is queued; waiting for the outbox to settle them
    DONE = "done"


class DigestRun(Base):
    """One digest of one kind for one week (the Monday of the week, local date): the row that
    stops a second or restarted process from starting the same week twice.

    Deliveries are outbound_messages rows with dedupe key `digest:<run id>:<person id>`.
    `prepared_through` is the last person id prepared, so preparation resumes where it stopped.
    """

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("kind", "week", name="uq_digest_runs_kind_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DigestKind] = mapped_column(_enum(DigestKind, "digest_kind"))
    week: Mapped[date] = mapped_column(Date)
    status: Mapped[DigestRunStatus] = mapped_column(_enum(DigestRunStatus, "digest_run_status"))
    # The moment the content is composed for: the same on every resume.
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    prepared_through: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    nothing_new: Mapped[int] = mapped_column(Integer, default=0)
    no_channel: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The staff console (bot/console/)


class ConsoleLink(Base):
    """A one-time sign-in link to the staff console, sent in chat (`/console`) or printed by
    `hotline console link`; only the SHA-256 of its token is stored."""

    __tablename__ = "console_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser: the cookie carries the session id (signed), this row its SHA-256,
    so signing out (or deleting the row) ends the session whatever the cookie says."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("console_links.id", ondelete="SET NULL"))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who did what, when and from where: console views and actions (and, later, exports and
    erasures). The application only ever adds rows. `actor_id` is who did it (None: the system
    or a command line), `subject` what it was done to (a reference, an email, "rota"),
    `subject_person_id` the person it concerns, when there is one."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    subject_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(20), default="console")

    actor: Mapped[Person | None] = relationship(foreign_keys=[actor_id])


class RetentionRun(Base):
    """One day's run of the retention policy (bot/privacy/retention.py). `day` is unique: the
    process that inserts it runs the policy, any other skips. `summary` is JSON: what was
    redacted or deleted, per kind of record (counts only)."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text, default="{}")
