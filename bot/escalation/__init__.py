"""Requests for a person: support requests now; emergency escalation builds on the same table."""

from bot.escalation.requests import open_support_request, request_for_question

__all__ = ["open_support_request", "request_for_question"]
