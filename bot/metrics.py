"""Prometheus figures for `/metrics`.

Counts that several processes share (answer bands, requests by status, outbound messages, sweep
lag) are read from the database at scrape time, so any process gives the same answer; only
messages handled is this process's own counter.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client import Counter as PromCounter
from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import HotlineRequest, OutboundMessage, QuestionLog, RequestStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def scrape(db: Database, handled: Counter[str], now: datetime) -> bytes:
    registry = CollectorRegistry()
    messages = PromCounter(
        "hotline_messages_handled",
        "Messages and button presses handled by this process",
        ["channel"],
        registry=registry,
    )
    for channel, count in handled.items():
        messages.labels(channel).inc(count)
    bands = Gauge("hotline_answer_bands", "Questions by answer band", ["band"], registry=registry)
    requests = Gauge(
        "hotline_requests",
        "Hotline requests by kind and status",
        ["kind", "status"],
        registry=registry,
    )
    outbound = Gauge(
        "hotline_outbound_messages", "Outbound messages by status", ["status"], registry=registry
    )
    retried = Gauge(
        "hotline_outbound_retries",
        "Send attempts beyond the first, over all messages",
        registry=registry,
    )
    lag = Gauge(
        "hotline_sweep_lag_seconds",
        "How long the most overdue escalation step has been waiting for the sweeper",
        registry=registry,
    )
    async with db.session() as session:
        for band, count in await session.execute(
            select(QuestionLog.band, func.count()).group_by(QuestionLog.band)
        ):
            bands.labels(band.value).set(count)
        for kind, status, count in await session.execute(
            select(HotlineRequest.kind, HotlineRequest.status, func.count()).group_by(
                HotlineRequest.kind, HotlineRequest.status
            )
        ):
            requests.labels(kind.value, status.value).set(count)
        for outbox_status, count in await session.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
        ):
            outbound.labels(outbox_status.value).set(count)
        retried.set(
            await session.scalar(
                select(func.coalesce(func.sum(OutboundMessage.attempts - 1), 0)).where(
                    OutboundMessage.attempts > 1
                )
            )
            or 0
        )
        oldest = await session.scalar(
            select(func.min(HotlineRequest.next_escalation_at)).where(
                HotlineRequest.status == RequestStatus.OPEN,
                HotlineRequest.next_escalation_at <= now,
            )
        )
    lag.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
    return generate_latest(registry)
