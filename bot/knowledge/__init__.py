"""The FAQ knowledge base: loading, validation, text analysis, the index and the matcher."""

from bot.knowledge.index import FaqIndex, build_index
from bot.knowledge.language import Lexicon, build_lexicon, load_lexicon
from bot.knowledge.loader import KnowledgeBase, load_knowledge_base
from bot.knowledge.matcher import MatchPolicy, MatchResult, Scored, match
from bot.knowledge.schema import FaqEntry, check_faq_dir, load_faq_dir

__all__ = [
    "FaqEntry",
    "FaqIndex",
    "KnowledgeBase",
    "Lexicon",
    "MatchPolicy",
    "MatchResult",
    "Scored",
    "build_index",
    "build_lexicon",
    "check_faq_dir",
    "load_faq_dir",
    "load_knowledge_base",
    "load_lexicon",
    "match",
]
