"""Thin platform adapters: build an IncomingMessage, call the dispatcher, render the replies.

Only modules in this package import platform SDKs (a ruff banned-api rule enforces it).
"""
