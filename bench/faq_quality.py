"""FAQ matching quality and speed, side by side with a plain rapidfuzz baseline.

    python bench/faq_quality.py [--queries ../shared/eval/faq-dev.jsonl] [--data data]

Prints accuracy figures for both matchers on the query set (one JSON object a line with
`query` and `expected`, an FAQ id or null), then per-query latency of our matcher with the real
index and with an index padded to 1,000 entries. A benchmark, not a test: it prints, never asserts.
"""

from __future__ import annotations

import bot  # noqa: F401  # isort: skip  (first: BLAS threads as in the bot, see bot/__init__.py)
import argparse
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from bot.core.types import Band
from bot.knowledge import (
    FaqEntry,
    FaqIndex,
    KnowledgeBase,
    MatchResult,
    build_index,
    load_faq_dir,
    load_knowledge_base,
)
from bot.knowledge.embedding import load_embedder
from bot.knowledge.schema import entry_texts
from bot.knowledge.semantic import SemanticIndex, phrasings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = ROOT.parent / "shared" / "eval" / "faq-dev.jsonl"
SHARED_FAQ = ROOT.parent / "shared" / "faq"


@dataclass(frozen=True)
class Outcome:
    answer_id: str | None
    ranked: tuple[str, ...]


@dataclass(frozen=True)
class Figures:
    overall: float
    in_scope_top1: float
    in_scope_answered: float
    out_of_scope_rejection: float
    recall_at_3: float


def load_queries(path: Path) -> list[tuple[str, str | None]]:
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            rows.append((d["query"], d["expected"]))
    return rows


def figures(rows: Sequence[tuple[str, str | None]], outcomes: Sequence[Outcome]) -> Figures:
    inside = [(e, o) for (_, e), o in zip(rows, outcomes, strict=True) if e is not None]
    outside = [o for (_, e), o in zip(rows, outcomes, strict=True) if e is None]
    correct = sum(o.answer_id == e for (_, e), o in zip(rows, outcomes, strict=True))
    return Figures(
        overall=correct / len(rows),
        in_scope_top1=sum(o.ranked[:1] == (e,) for e, o in inside) / max(len(inside), 1),
        in_scope_answered=sum(o.answer_id == e for e, o in inside) / max(len(inside), 1),
        out_of_scope_rejection=sum(o.answer_id is None for o in outside) / max(len(outside), 1),
        recall_at_3=sum(e in o.ranked[:3] for e, o in inside) / max(len(inside), 1),
    )


def ours(index: FaqIndex) -> Callable[[str], Outcome]:
    from bot.knowledge.matcher import match

    return outcome_of(lambda q: match(q, index))


def outcome_of(matcher: Callable[[str], MatchResult]) -> Callable[[str], Outcome]:
    def run(q: str) -> Outcome:
        r = matcher(q)
        return Outcome(
            r.answer_id if r.band is Band.ANSWER else None, tuple(s.id for s in r.suggestions)
        )

    return run


SHORT = 30  # tokens: the length below which one embedding fits in about 10 ms here


def token_counts(semantic: SemanticIndex, queries: Sequence[str]) -> list[int]:
    """How many model tokens each query is: the embedding's cost grows with it."""
    return [semantic.embedder.token_count(q) for q in queries]


def cold(kb: KnowledgeBase) -> Callable[[str], object]:
    """The combined matcher with the embedder's cache emptied first: every question is new."""
    assert kb.semantic is not None
    embedder = kb.semantic.embedder

    def run(q: str) -> object:
        embedder.forget()
        return kb.match(q)

    return run


def baseline_scores(
    entries: Sequence[FaqEntry], rows: Sequence[tuple[str, str | None]]
) -> list[list[tuple[str, float]]]:
    choices: list[str] = []
    owners: list[str] = []
    for e in entries:
        for text in entry_texts(e):
            choices.append(text)
            owners.append(e.id)
    out = []
    for q, _ in rows:
        best: dict[str, float] = {}
        for _, score, pos in process.extract(q, choices, scorer=fuzz.token_set_ratio, limit=30):
            best.setdefault(owners[pos], score)
        out.append(sorted(best.items(), key=lambda kv: -kv[1]))
    return out


def baseline_outcomes(scored: list[list[tuple[str, float]]], threshold: float) -> list[Outcome]:
    return [
        Outcome(s[0][0] if s and s[0][1] >= threshold else None, tuple(i for i, _ in s[:3]))
        for s in scored
    ]


def tune_baseline(
    rows: Sequence[tuple[str, str | None]], scored: list[list[tuple[str, float]]]
) -> float:
    return max(range(0, 101), key=lambda t: figures(rows, baseline_outcomes(scored, t)).overall)


def padded(entries: Sequence[FaqEntry], size: int, seed: int = 7) -> list[FaqEntry]:
    """The real entries plus synthetic ones built from the corpus vocabulary and invented words."""
    rng = random.Random(seed)
    vocab = sorted(
        {w for e in entries for w in (e.question + " " + e.answer).lower().split() if w.isalpha()}
    )
    invented = [
        "".join(rng.choice("abcdefghijklmnoprstuvw") for _ in range(rng.randint(4, 10)))
        for _ in range(4000)
    ]
    pool = vocab + invented

    def sentence(n: int) -> str:
        return " ".join(rng.choice(pool) for _ in range(n))

    out = list(entries)
    while len(out) < size:
        base = rng.choice(entries)
        out.append(
            replace(
                base,
                id=f"synthetic-{len(out)}",
                question=sentence(rng.randint(6, 14)),
                alternatives=tuple(sentence(rng.randint(3, 12)) for _ in range(12)),
                keywords=tuple(rng.choice(pool) for _ in range(8)),
                answer=sentence(rng.randint(50, 120)),
            )
        )
    return out


def padded_semantic(big: FaqIndex, real: SemanticIndex) -> SemanticIndex:
    """The real entries' vectors, and random unit vectors for the synthetic ones: the cost of a
    question depends on the matrix's size, not on what the synthetic phrasings say (embedding
    13,000 of them would take minutes)."""
    texts, starts = phrasings(big)
    rng = np.random.default_rng(7)
    extra = rng.standard_normal((len(texts) - len(real.vectors), real.vectors.shape[1]))
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    vectors = np.vstack([real.vectors, extra.astype(np.float32)])
    return SemanticIndex(real.embedder, vectors, starts, big.ids)


@dataclass(frozen=True)
class Timing:
    p50: float  # ms
    p99: float  # ms
    cpu: float  # ms of this process's CPU per query, mean

    def __str__(self) -> str:
        return f"p50 {self.p50:.3f}  p99 {self.p99:.3f} ms  cpu {self.cpu:.3f} ms/query"


def latency(run: Callable[[str], object], queries: Sequence[str], repeat: int = 5) -> Timing:
    """Per-query wall time (p50, p99) and mean CPU time. Queries run once before timing, so
    that "repeated" means repeated (a cold function clears its own cache on every call)."""
    for q in queries:
        run(q)
    samples = []
    cpu0 = time.process_time()
    for _ in range(repeat):
        for q in queries:
            t0 = time.perf_counter_ns()
            run(q)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    cpu = (time.process_time() - cpu0) * 1000 / len(samples)
    samples.sort()
    return Timing(statistics.median(samples), samples[int(len(samples) * 0.99) - 1], cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--data", type=Path, default=ROOT / "data")
    ap.add_argument("--misses", action="store_true", help="list the queries our matcher gets wrong")
    args = ap.parse_args()

    rows = load_queries(args.queries)
    embedder = load_embedder(None)
    kb = load_knowledge_base(args.data, embedder, ROOT / ".cache" / "hotline")
    entries = kb.index.entries
    run = outcome_of(kb.match)
    our_out = [run(q) for q, _ in rows]
    lexical_out = [ours(kb.index)(q) for q, _ in rows]
    scored = baseline_scores(entries, rows)
    threshold = tune_baseline(rows, scored)
    base_out = baseline_outcomes(scored, threshold)
    a, b = figures(rows, our_out), figures(rows, base_out)

    print(
        f"queries: {len(rows)} ({sum(e is None for _, e in rows)} out of scope) from {args.queries}"
    )
    print(f"entries: {len(entries)}; baseline threshold tuned on this set: {threshold}")
    columns = {"combined" if kb.semantic else "lexical": a}
    if kb.semantic is not None:
        columns["lexical alone"] = figures(rows, lexical_out)
    else:
        print("the embedding model is not installed: the lexical matcher alone")
    columns["baseline"] = b
    if SHARED_FAQ.is_dir():
        # The same baseline over the FAQ as shared, before our phrasings, for scale.
        plain = load_faq_dir(SHARED_FAQ)
        plain_scored = baseline_scores(plain, rows)
        columns["baseline/shared-faq"] = figures(
            rows, baseline_outcomes(plain_scored, tune_baseline(rows, plain_scored))
        )
    print(f"{'metric':<26}" + "".join(f"{name:>22}" for name in columns))
    for field in Figures.__dataclass_fields__:
        print(f"{field:<26}" + "".join(f"{getattr(f, field):>22.3f}" for f in columns.values()))

    queries = [q for q, _ in rows]
    big = build_index(padded(entries, 1000), kb.index.lexicon)
    print(
        f"latency, lexical, real index ({len(entries)} entries): {latency(ours(kb.index), queries)}"
    )
    print(f"latency, lexical, padded index ({len(big.entries)}): {latency(ours(big), queries)}")
    if kb.semantic is not None:
        padded_kb = KnowledgeBase(big, semantic=padded_semantic(big, kb.semantic))
        tokens = token_counts(kb.semantic, queries)
        ranked = sorted(tokens)
        print(
            f"question length in tokens: p50 {ranked[len(ranked) // 2]}  "
            f"p99 {ranked[int(len(ranked) * 0.99) - 1]}  max {ranked[-1]}"
        )
        short = [q for q, n in zip(queries, tokens, strict=True) if n <= SHORT]
        for label, each in (("real", kb), (f"padded ({len(big.entries)})", padded_kb)):
            new = latency(cold(each), queries, 2)
            print(f"latency, combined, {label} index, new questions: {new}")
            print(
                f"latency, combined, {label} index, new questions of {SHORT} tokens or fewer "
                f"({len(short)}): {latency(cold(each), short, 2)}"
            )
            print(f"latency, combined, {label} index, repeated: {latency(each.match, queries)}")
    base_choices = [t for e in entries for t in entry_texts(e)]
    base = latency(
        lambda q: process.extractOne(q, base_choices, scorer=fuzz.token_set_ratio), queries
    )
    print(f"latency, baseline (real index): {base}")

    if args.misses:
        for (q, e), o in zip(rows, our_out, strict=True):
            if o.answer_id != e:
                print(f"MISS expected={e} got={o.answer_id} ranked={o.ranked} :: {q}")


if __name__ == "__main__":
    main()
