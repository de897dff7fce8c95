"""The event-loop lag monitor (bot/metrics.py, LoopLag): its arithmetic on an injected clock and
sleep, so that no test waits or depends on timing, and its Prometheus text."""

from __future__ import annotations

import asyncio

import pytest

from bot.metrics import LAG_BUCKETS_S, LoopLag, loop_lag_page, quantile_of

INF = float("inf")


class FakeTime:
    """A clock that only moves when the monitor sleeps: by the interval plus the next lag."""

    def __init__(self, lags: list[float]) -> None:
        self.now = 100.0
        self.lags = list(lags)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.lags.pop(0)


async def watched(lags: list[float], interval_s: float = 0.01) -> LoopLag:
    fake = FakeTime(lags)
    lag = LoopLag(interval_s, clock=fake.clock, sleep=fake.sleep)
    await lag.run(ticks=len(lags))
    assert not fake.lags
    return lag


async def test_each_wake_up_is_recorded_by_how_late_it_was() -> None:
    lag = await watched([0.0004] * 98 + [0.012, 0.3])
    assert lag.samples == 100
    assert lag.max_s == pytest.approx(0.3)
    assert lag.total_s == pytest.approx(98 * 0.0004 + 0.012 + 0.3)
    assert lag.counts[0] == 98  # <= 0.5 ms
    assert lag.counts[LAG_BUCKETS_S.index(0.015)] == 1  # (10 ms, 15 ms]
    assert lag.counts[LAG_BUCKETS_S.index(0.3)] == 1  # (200 ms, 300 ms]
    # p50 falls in the first bucket (0 to 0.5 ms), 50 of its 98; p99 is the 99th of 100, the
    # one in (10, 15] ms, read at the top of its bucket; the max is exact.
    assert lag.quantile(0.5) == pytest.approx(0.0005 * 50 / 98)
    assert lag.quantile(0.99) == pytest.approx(0.015)
    assert lag.quantile(1.0) == pytest.approx(0.3)


async def test_quantiles_never_exceed_the_largest_lag_seen() -> None:
    lag = await watched([0.011] * 10)  # all in (10, 15] ms: interpolation would say up to 15
    assert lag.quantile(0.99) == pytest.approx(0.011)


async def test_an_early_wake_up_counts_as_no_lag_and_a_bound_is_its_own_buckets() -> None:
    lag = await watched([-0.001, 0.05, 20.0])
    assert lag.counts[0] == 1 and lag.total_s == pytest.approx(20.05)
    assert lag.counts[LAG_BUCKETS_S.index(0.05)] == 1  # 50 ms exactly is "<= 50 ms"
    assert lag.counts[-1] == 1  # beyond the last bound: +Inf


async def test_an_idle_monitor_says_zero() -> None:
    lag = LoopLag()
    assert lag.samples == 0 and lag.quantile(0.99) == 0.0 and lag.max_s == 0.0


def test_quantile_of_interpolates_within_a_bucket_as_prometheus_does() -> None:
    buckets = [(0.01, 0.0), (0.02, 50.0), (0.05, 100.0), (INF, 100.0)]
    assert quantile_of(buckets, 0.5) == pytest.approx(0.02)
    assert quantile_of(buckets, 0.25) == pytest.approx(0.015)
    assert quantile_of(buckets, 0.99) == pytest.approx(0.02 + 0.03 * 49 / 50)
    assert quantile_of([(0.01, 0.0), (INF, 0.0)], 0.99) == 0.0  # empty
    assert quantile_of([(0.01, 1.0), (INF, 10.0)], 0.99) == 0.01  # in +Inf: the last bound


async def test_watching_runs_the_monitor_only_while_the_block_runs() -> None:
    ticks = 0
    three = asyncio.Event()

    async def sleep(_seconds: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 3:
            three.set()
        await asyncio.sleep(0)

    lag = LoopLag(sleep=sleep)
    async with lag.watching():
        await three.wait()
    stopped_at = ticks
    for _ in range(5):
        await asyncio.sleep(0)
    assert ticks == stopped_at and lag.samples >= 2


def test_the_page_has_the_histogram_and_the_quantiles_since_start() -> None:
    lag = LoopLag()
    for seconds in [0.0004] * 98 + [0.012, 0.3]:
        lag.record(seconds)
    page = loop_lag_page(lag).decode()
    assert "# TYPE hotline_event_loop_lag_seconds histogram" in page
    assert 'hotline_event_loop_lag_seconds_bucket{le="0.0005"} 98.0' in page
    assert 'hotline_event_loop_lag_seconds_bucket{le="0.05"} 99.0' in page
    assert 'hotline_event_loop_lag_seconds_bucket{le="+Inf"} 100.0' in page
    assert "hotline_event_loop_lag_seconds_count 100.0" in page
    assert 'hotline_event_loop_lag_quantile_seconds{quantile="0.99"} 0.015' in page
    assert 'hotline_event_loop_lag_quantile_seconds{quantile="1"} 0.3' in page
