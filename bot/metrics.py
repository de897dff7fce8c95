"""Prometheus figures for `/metrics`.

Counts that several processes share (answer bands, requests by status, outbound messages, sweep
lag) are read from the database at scrape time, so any process gives the same answer; only
messages handled and the event loop's lag (`LoopLag`) are this process's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select

from bot.store.db import Database
from bot.store.models import HotlineRequest, OutboundMessage, QuestionLog, RequestStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The event-loop lag histogram's upper bounds, in seconds (round milliseconds, 50 ms among them
# so that "p99 <= 50 ms" reads off a bucket exactly); one more bucket, +Inf, holds the rest.
LAG_BUCKETS_S: tuple[float, ...] = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.04,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
LAG_INTERVAL_S = 0.01  # how long the monitor sleeps between looks
LAG_HISTOGRAM = "hotline_event_loop_lag_seconds"
LAG_QUANTILES = "hotline_event_loop_lag_quantile_seconds"


def quantile_of(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """The q-quantile (0 < q <= 1) of a histogram given as cumulative (upper bound, count)
    pairs in order, the last bound +Inf: interpolated linearly within the bucket the rank falls
    in, as Prometheus's histogram_quantile does (the first bucket starts at 0); a rank in the
    +Inf bucket answers the last finite bound. 0.0 for an empty histogram."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return 0.0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank and cumulative > below:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / (cumulative - below)
        lower, below = bound, cumulative
    return lower


class LoopLag:
    """How late the event loop wakes a task that sleeps `interval_s` again and again: the time
    a ready callback waits behind others (a long step on the loop, a full garbage collection, a
    blocking call). Kept since start as a histogram (`LAG_BUCKETS_S`) with its sum and maximum;
    `quantile` reads p50 / p99 off it. `clock` and `sleep` are injectable, so that the arithmetic
    is tested without time passing. On uvloop, timers fire on whole milliseconds, so an idle
    loop shows up to about 1 ms."""

    def __init__(
        self,
        interval_s: float = LAG_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self.counts = [0] * (len(LAG_BUCKETS_S) + 1)  # per bucket, the last one +Inf
        self.total_s = 0.0
        self.max_s = 0.0

    @property
    def samples(self) -> int:
        return sum(self.counts)

    def record(self, lag_s: float) -> None:
        lag_s = max(0.0, lag_s)
        self.counts[bisect_left(LAG_BUCKETS_S, lag_s)] += 1  # a bound is its bucket's own
        self.total_s += lag_s
        self.max_s = max(self.max_s, lag_s)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, samples at or under it) per bucket, the last bound +Inf."""
        pairs, running = [], 0
        for bound, count in zip((*LAG_BUCKETS_S, float("inf")), self.counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs

    def quantile(self, q: float) -> float:
        """The q-quantile since start (never above the largest lag seen)."""
        return min(quantile_of(self.cumulative(), q), self.max_s)

    async def run(self, ticks: int | None = None) -> None:
        """Sleep and record how late the wake-up was, `ticks` times (for ever by default)."""
        done = 0
        while ticks is None or done < ticks:
            due = self._clock() + self.interval_s
            await self._sleep(self.interval_s)
            self.record(self._clock() - due)
            done += 1

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Run the monitor on the current loop while the block runs."""
        task = asyncio.create_task(self.run(), name="loop-lag")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _LagFigures:
    """The lag as Prometheus families: the histogram (buckets, sum, count: scrapes can be
    subtracted for a window) and p50 / p99 / max since start (quantile "1" is the max)."""

    def __init__(self, lag: LoopLag) -> None:
        self.lag = lag

    def collect(self) -> Iterable[Metric]:
        lag = self.lag
        histogram = HistogramMetricFamily(
            LAG_HISTOGRAM,
            f"How late the event loop woke a task sleeping {lag.interval_s * 1000:g} ms, since "
            "this process started",
            buckets=[(_le(bound), float(n)) for bound, n in lag.cumulative()],
            sum_value=lag.total_s,
        )
        quantiles = GaugeMetricFamily(
            LAG_QUANTILES,
            "Event-loop lag since this process started: p50, p99 and the maximum (quantile 1)",
            labels=["quantile"],
        )
        for q in ("0.5", "0.99"):
            quantiles.add_metric([q], lag.quantile(float(q)))
        quantiles.add_metric(["1"], lag.max_s)
        return [histogram, quantiles]


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else str(bound)


def loop_lag_page(lag: LoopLag) -> bytes:
    """`/metrics` with the lag alone (bench/echo_bot.py, the baseline, serves this)."""
    registry = CollectorRegistry()
    registry.register(_LagFigures(lag))
    return generate_latest(registry)


async def scrape(
    db: Database, handled: Counter[str], now: datetime, loop_lag: LoopLag | None = None
) -> bytes:
    registry = CollectorRegistry()
    if loop_lag is not None:
        registry.register(_LagFigures(loop_lag))
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
