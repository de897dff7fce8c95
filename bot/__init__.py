"""Member hotline bot: FAQ answers, emergency hotline requests, escalation and digests."""

__version__ = "0.1.0"
