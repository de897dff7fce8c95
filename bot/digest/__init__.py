"""The weekly keep-in-touch digest.

    audience.py       who an item is for: school phase and role (from the job title); pure
    content.py        news and events files: parsing and validation (file, item, field); pure;
                      check_item: the same checks by field for a form
    content_store.py  importing (all or nothing, idempotent); adding, editing (refused when
                      stale) and withdrawing items; queries (a withdrawn item is in none)
    faq_changes.py    FAQ entry hashes kept across reloads: what was added or changed, and when
    layout.py         sections trimmed to fit one message ("and 3 more"); pure
    compose.py        a member's digest and the staff digest from plain data; pure
    gather.py         the data compose needs, read from the database
    subscriptions.py  subscribe / unsubscribe (cancelling pending deliveries), subscribers
    runs.py           a run per (kind, week): start or resume, prepare in batches, counts, status
    preview.py        what one person would get for a week; the week of the next run
    delivery.py       send a run through the outbox until it settles, with progress
    schedule.py       the cron setting, weeks, "is a run due", the APScheduler job

The package imports nothing here, so `bot.config` can use `schedule.check_cron` without a cycle.
"""
