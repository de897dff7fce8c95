"""Loading the knowledge base from a data folder: the one place in this package that reads files.

The compiled index (the FAQ files read and checked, every text analysed, the postings built) is
kept in the cache folder under a key of the FAQ and language files and the code that compiles
them (bot/core/compiled.py), so that a start with unchanged files reads one file instead of
compiling; so is the index with the learned phrasings added, under the base's key and the
phrasings. numpy and the embedding code are imported only with a model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core import compiled, datafile
from bot.knowledge import index as index_module
from bot.knowledge import language, schema
from bot.knowledge.index import FaqIndex, build_index
from bot.knowledge.language import Lexicon, load_lexicon
from bot.knowledge.matcher import (
    DEFAULT_COMBINED,
    DEFAULT_POLICY,
    CombinedPolicy,
    MatchPolicy,
    MatchResult,
    best_of,
    match,
)
from bot.knowledge.schema import FaqEntry, load_faq_dir

if TYPE_CHECKING:
    import numpy as np

    from bot.knowledge.embedding import Embedder
    from bot.knowledge.semantic import SemanticIndex

# The language files ship with the project; a DATA_DIR without its own falls back to these.
BUNDLED_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
INDEX_KIND = "faq-index"


def _compiled(folder: Path | None) -> compiled.Compiled[FaqIndex]:
    return compiled.Compiled(folder, INDEX_KIND, (FaqIndex, FaqEntry, Lexicon))


@dataclass(frozen=True)
class IndexCache:
    """Where a knowledge base's index is kept, and its key there."""

    folder: Path
    key: str


# The FAQ and language files as they looked on disk: (path, size, modification time) each.
Stamp = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class FaqFiles:
    """The data folder a knowledge base was loaded from, and its files' stamp just before."""

    data_dir: Path
    stamp: Stamp


def files_stamp(data_dir: Path) -> Stamp:
    """The FAQ and language files' names, sizes and modification times: a few stat calls, to
    notice cheaply that the files changed (a file added, replaced or edited)."""
    found: list[tuple[str, int, int]] = []
    for folder in (data_dir / "faq", language_dir(data_dir)):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file():
                        st = entry.stat()
                        found.append((entry.path, st.st_size, st.st_mtime_ns))
        except OSError:
            found.append((str(folder), -1, -1))
    return tuple(sorted(found))


@dataclass(frozen=True)
class KnowledgeBase:
    """The index, and the embedding signal beside it when a model is installed (without one,
    `semantic` is None and the lexical matcher decides alone). `cache`: where its index is kept
    (None: nowhere), so that adding phrasings can reuse an index compiled before. `files`: the
    data folder it was loaded from (None: built in memory), so that it can be loaded again when
    the files change (`reload_knowledge_base`)."""

    index: FaqIndex
    policy: MatchPolicy = DEFAULT_POLICY
    semantic: SemanticIndex | None = None
    combined: CombinedPolicy = DEFAULT_COMBINED
    cache: IndexCache | None = None
    files: FaqFiles | None = None

    def match(self, text: str) -> MatchResult:
        if self.semantic is None:
            return match(text, self.index, self.policy)
        return self.semantic.match(text, self.index, self.policy, self.combined)

    def best_of(self, text: str, candidates: Sequence[str]) -> str | None:
        return best_of(text, self.index, candidates, self.policy)

    def entry(self, entry_id: str) -> FaqEntry | None:
        return self.index.entry(entry_id)

    def with_phrasings(self, extra: Mapping[str, Sequence[str]]) -> KnowledgeBase:
        """The same knowledge base with more phrasings for some entries (learned ones): the
        index is rebuilt (or read back, when these phrasings were added before), and only
        phrasings not embedded before are embedded."""
        entries = tuple(
            replace(e, alternatives=(*e.alternatives, *extra[e.id])) if extra.get(e.id) else e
            for e in self.index.entries
        )
        cache = None
        if self.cache is None:
            index = build_index(entries, self.index.lexicon)
        else:
            key = compiled.Key(INDEX_KIND).text(self.cache.key)
            for entry in self.index.entries:
                added = extra.get(entry.id, ())
                key.text(entry.id).text(str(len(added)))
                for text in added:
                    key.text(text)
            cache = IndexCache(self.cache.folder, key.hexdigest())
            index = _compiled(cache.folder).get(
                cache.key, lambda: build_index(entries, self.index.lexicon)
            )
        if self.semantic is None:
            return replace(self, index=index, cache=cache)
        import numpy as np

        from bot.knowledge.semantic import build_semantic, phrasings

        known_texts, _ = phrasings(self.index)
        known = dict(zip(known_texts, self.semantic.vectors, strict=True))

        def reuse(embedder: Embedder, texts: list[str]) -> np.ndarray:
            new = [t for t in dict.fromkeys(texts) if t not in known]
            fresh = dict(zip(new, embedder.embed(new), strict=True)) if new else {}
            return np.stack([known[t] if t in known else fresh[t] for t in texts])

        semantic = build_semantic(index, self.semantic.embedder, reuse)
        return replace(self, index=index, semantic=semantic, cache=cache)


def language_dir(data_dir: Path) -> Path:
    own = data_dir / "language"
    return own if own.is_dir() else BUNDLED_DATA_DIR / "language"


def index_key(data_dir: Path) -> str:
    """The key of the index of `data_dir`'s FAQ and language files, as this code compiles it."""
    here = sys.modules[__name__]
    code = (compiled, datafile, here, schema, language, index_module, *language.stemmer_modules())
    key = compiled.Key(INDEX_KIND).code(code)
    return key.folder(data_dir / "faq").folder(language_dir(data_dir)).hexdigest()


def compile_index(data_dir: Path) -> FaqIndex:
    """Read and check the FAQ and language files and build the index; raises DataError with one
    line per problem."""
    entries = load_faq_dir(data_dir / "faq")
    lexicon = load_lexicon(language_dir(data_dir))
    return build_index(entries, lexicon)


def load_knowledge_base(
    data_dir: Path, embedder: Embedder | None = None, cache_dir: Path | None = None
) -> KnowledgeBase:
    """Load and validate `data_dir/faq`; raises DataError with one line per problem. With
    `cache_dir`, the compiled index is read from there when the files are unchanged (and kept
    there when they are new). With an embedder, every phrasing is embedded (or read from
    `cache_dir`, keyed by model and texts)."""
    files = FaqFiles(data_dir, files_stamp(data_dir))  # before reading: a change meanwhile shows
    if cache_dir is None:
        kb = KnowledgeBase(compile_index(data_dir), files=files)
    else:
        key = index_key(data_dir)
        index = _compiled(cache_dir).get(key, lambda: compile_index(data_dir))
        kb = KnowledgeBase(index, cache=IndexCache(cache_dir, key), files=files)
    if embedder is None:
        return kb
    from bot.knowledge.semantic import build_semantic, phrasing_cache

    return replace(kb, semantic=build_semantic(kb.index, embedder, phrasing_cache(cache_dir)))


def files_changed(kb: KnowledgeBase) -> Stamp | None:
    """The files' stamp now when the data folder `kb` was loaded from has changed since; None
    when it has not (or `kb` was not loaded from files)."""
    if kb.files is None:
        return None
    now = files_stamp(kb.files.data_dir)
    return now if now != kb.files.stamp else None


def reload_knowledge_base(kb: KnowledgeBase) -> KnowledgeBase:
    """The knowledge base of the same data folder read again (its files changed), with the same
    embedding model and cache folder; raises DataError with one line per problem. A knowledge
    base not loaded from files comes back as it is."""
    if kb.files is None:
        return kb
    embedder = kb.semantic.embedder if kb.semantic is not None else None
    cache_dir = kb.cache.folder if kb.cache is not None else None
    return load_knowledge_base(kb.files.data_dir, embedder, cache_dir)
