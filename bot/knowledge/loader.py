"""Loading the knowledge base from a data folder: the one place in this package that reads files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.index import FaqIndex, build_index
from bot.knowledge.language import load_lexicon
from bot.knowledge.matcher import DEFAULT_POLICY, MatchPolicy, MatchResult, best_of, match
from bot.knowledge.schema import FaqEntry, load_faq_dir

# The language files ship with the project; a DATA_DIR without its own falls back to these.
BUNDLED_DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class KnowledgeBase:
    index: FaqIndex
    policy: MatchPolicy = DEFAULT_POLICY

    def match(self, text: str) -> MatchResult:
        return match(text, self.index, self.policy)

    def best_of(self, text: str, candidates: Sequence[str]) -> str | None:
        return best_of(text, self.index, candidates, self.policy)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self.index.entry(entry_id)


def language_dir(data_dir: Path) -> Path:
    own = data_dir / "language"
    return own if own.is_dir() else BUNDLED_DATA_DIR / "language"


def load_knowledge_base(data_dir: Path) -> KnowledgeBase:
    """Load and validate `data_dir/faq`; raises DataError with one line per problem."""
    entries = load_faq_dir(data_dir / "faq")
    lexicon = load_lexicon(language_dir(data_dir))
    return KnowledgeBase(build_index(entries, lexicon))
