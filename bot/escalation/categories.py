"""The kinds of emergency the hotline knows: the urgency cues, the rota's out-of-hours list and
the reports all name these."""

CATEGORIES: tuple[str, ...] = (
    "ofsted-notification",
    "safeguarding",  # includes a missing child
    "allegation",
    "serious-incident",
    "media",
    "data-breach",
    "cyber",
    "premises",
    "closure",
    "industrial-action",
    "exams",
    "other-urgent",
)
FALLBACK = "other-urgent"  # an emergency whose words name no category
