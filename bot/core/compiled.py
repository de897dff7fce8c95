"""What start-up compiles from data files (the FAQ index, the urgency cues), kept on disk under a
key made of everything it was compiled from, so that a process whose inputs have not changed
reads it back instead of compiling it again.

The key (`Key`) is a SHA-256 of the inputs' bytes, the source of the code that compiles them and
this file format's version: a changed data file, a changed compiler or another Python misses and
compiles afresh, so nothing on disk is trusted over the source. A file is written through a name
of the writer's own and renamed (no reader ever sees half of one) and carries a checksum of its
payload; it is unpickled with only the classes its reader names allowed, so it can build nothing
else. A missing, damaged, foreign or stale file is ignored: the caller compiles and writes it
again. A folder that cannot be written is a warning, since what was compiled is as good in
memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

FORMAT = b"hotline-compiled 1"
KEEP = 8  # files kept of each kind: the newest, so that old keys do not pile up
SUFFIX = ".compiled"

T = TypeVar("T")


class Key:
    """A content hash of everything a compiled value depends on, built up part by part; each
    part is framed by its length, so two different sequences of parts never hash alike."""

    def __init__(self, kind: str) -> None:
        self._digest = hashlib.sha256(FORMAT)
        self.text(kind).text(f"python {sys.version_info[0]}.{sys.version_info[1]}")

    def data(self, raw: bytes) -> Key:
        self._digest.update(len(raw).to_bytes(8, "big") + raw)
        return self

    def text(self, value: str) -> Key:
        return self.data(value.encode("utf-8"))

    def file(self, path: Path) -> Key:
        """A file's name and bytes (a missing one counts as missing, and differs from empty)."""
        self.text(path.name)
        try:
            return self.text("file").data(path.read_bytes())
        except OSError:
            return self.text("missing")

    def folder(self, path: Path) -> Key:
        """Every file directly in `path`, by name."""
        try:
            files = sorted(p for p in path.iterdir() if p.is_file())
        except OSError:
            return self.text(f"no folder {path.name}")
        self.text(f"folder of {len(files)}")
        for file in files:
            self.file(file)
        return self

    def code(self, modules: Iterable[ModuleType]) -> Key:
        """The source of the modules that compile the value: edited code compiles afresh."""
        for module in modules:
            self.text(module.__name__)
            source = getattr(module, "__file__", None)
            if source is None:
                self.text("built in")
            else:
                self.file(Path(source))
        return self

    def hexdigest(self) -> str:
        return self._digest.hexdigest()[:40]


@dataclass(frozen=True)
class Compiled(Generic[T]):
    """Values of one kind in `folder` (None: nothing kept), as `KIND-KEY.compiled`. `classes`
    are the only ones a file may build; the first is the value's own type."""

    folder: Path | None
    kind: str
    classes: tuple[type, ...]

    def path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{self.kind}-{key}{SUFFIX}"

    def get(self, key: str, compile_: Callable[[], T]) -> T:
        """The value kept under `key`, else `compile_()`, kept for next time."""
        found = self.read(key)
        if found is not None:
            return found
        value = compile_()
        self.write(key, value)
        return value

    def read(self, key: str) -> T | None:
        path = self.path(key)
        if path is None:
            return None
        try:
            raw = path.read_bytes()
        except OSError:
            return None  # not compiled yet (or not readable: compiled again)
        value = _decode(raw, self.classes)
        if value is None:
            log.info("compiled %s not used (damaged or foreign): %s", self.kind, path)
            return None
        wanted: type[T] = self.classes[0]
        return value if isinstance(value, wanted) else None

    def write(self, key: str, value: T) -> None:
        path = self.path(key)
        if path is None:
            return
        payload = pickle.dumps(value, protocol=5)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(_header(payload) + payload)
            partial.replace(path)
        except OSError as exc:
            log.warning("compiled %s not kept (%s): %s", self.kind, type(exc).__name__, path)
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            return
        self._prune(keep=path)

    def _prune(self, keep: Path) -> None:
        """Remove the oldest files of this kind beyond KEEP (another process may be reading one:
        it then finds nothing and compiles, which is all a missing file ever costs)."""
        assert self.folder is not None
        try:
            mine = [p for p in self.folder.glob(f"{self.kind}-*{SUFFIX}") if p != keep]
            mine.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in mine[KEEP - 1 :]:
            with contextlib.suppress(OSError):
                old.unlink()


def _header(payload: bytes) -> bytes:
    return FORMAT + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n"


def _decode(raw: bytes, classes: tuple[type, ...]) -> object | None:
    head, _, rest = raw.partition(b"\n")
    checksum, _, payload = rest.partition(b"\n")
    if head != FORMAT or checksum != hashlib.sha256(payload).hexdigest().encode():
        return None
    try:
        value: object = _Restricted(io.BytesIO(payload), classes).load()
    except Exception:  # whatever a bad file makes pickle raise, the file is not used
        return None
    return value


class _Restricted(pickle.Unpickler):
    """Builds only the named classes (the pickle module's own "restricting globals" recipe):
    plain containers need no class at all, and any other name is refused."""

    def __init__(self, file: io.BytesIO, classes: tuple[type, ...]) -> None:
        super().__init__(file)
        self._allowed = {(c.__module__, c.__qualname__): c for c in classes}

    def find_class(self, module: str, name: str) -> type:
        found = self._allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed here")
        return found
