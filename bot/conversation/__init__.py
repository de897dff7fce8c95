"""Transport-neutral conversation types and the dispatcher that every channel drives."""

from bot.conversation.dispatcher import Dispatcher, DispatcherConfig
from bot.conversation.types import Button, IncomingMessage, Reply

__all__ = ["Button", "Dispatcher", "DispatcherConfig", "IncomingMessage", "Reply"]
