"""Transport-neutral conversation types; the dispatcher lives in `bot.conversation.dispatcher`.

Only the types are re-exported here: the escalation and digest packages import
`bot.conversation.texts` and `types`, and importing the dispatcher from this package's
`__init__` would import them back while they are half-initialised.
"""

from bot.conversation.types import Button, IncomingMessage, Reply

__all__ = ["Button", "IncomingMessage", "Reply"]
