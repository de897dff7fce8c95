"""Subcommands of `hotline`, one module per group; each exposes `register(subparsers)`."""
