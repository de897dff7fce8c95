"""A random secret made once and kept in a file, for a development deployment that has no
secret set (the console's session key, the key of the links in emails)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bot.core.errors import ConfigError


def kept_secret(path: Path, what: str, setting: str) -> bytes:
    """The secret in `path`, made first if there is none. It is written in full under a name of
    the writer's own and then linked into place, which fails if the file is there already: of
    two processes starting at once, the first to link wins, and nobody ever reads a half-written
    secret. A damaged file is a ConfigError naming `what` it should hold and `setting`, the way
    round it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # another process linked its own first: that one is the secret
        finally:
            partial.unlink(missing_ok=True)
    kept = path.read_text(encoding="ascii").strip()
    if len(kept) < 32:
        raise ConfigError(
            f"{path} holds no usable {what}: delete it (a new one is made) or set {setting}"
        )
    return kept.encode()
