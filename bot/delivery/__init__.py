"""The outbox: every message the bot sends is a row first (enqueue, enqueue_many), then claimed,
sent through a channel's Sender and settled, exactly once per dedupe key. Escalation, digests
and replies all send through it."""
