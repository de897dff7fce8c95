"""What the platform fakes share: `Fault`, `Call` and the `FakeServer` base.

    Fault.too_many(retry_after=1)   the platform's rate limit (HTTP 429 with its retry hint)
    Fault.server_error()            HTTP 500
    Fault.forbidden()               the chat cannot be reached (Telegram 403 "bot was blocked by
                                    the user"; Slack `{"ok": false, "error": "channel_not_found"}`)
    Fault.error("detail")           an API error: Telegram 400 with that description, Slack HTTP
                                    200 `{"ok": false, "error": "detail"}`
    Fault.hang(seconds=3)           answer normally, but only after `seconds`: the client's read
                                    timeout should fire first, yet the call still takes effect
                                    (a sendMessage is delivered, as on the real platforms);
                                    `stop()` ends a hang at once, with no effect
    Fault.disconnect()              close the connection without answering

`FakeServer` (subclassed by `FakeTelegram` and `FakeSlack`) runs an aiohttp server on 127.0.0.1
at a free port, records every API call in `calls` and decides faults in this order: a blocked
chat (`block`, or chosen by `random_faults`), then the chat's own queue (`fail_for_chat`), then
the method's queue (`fail`), then the random draw. Each queued fault is used once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

FaultKind = Literal["too_many", "server_error", "forbidden", "error", "hang", "disconnect"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after: int = 1
    seconds: float = 0.0
    detail: str = ""

    @classmethod
    def too_many(cls, retry_after: int = 1) -> Fault:
        return cls("too_many", retry_after=retry_after)

    @classmethod
    def server_error(cls) -> Fault:
        return cls("server_error")

    @classmethod
    def forbidden(cls) -> Fault:
        return cls("forbidden")

    @classmethod
    def error(cls, detail: str) -> Fault:
        return cls("error", detail=detail)

    @classmethod
    def hang(cls, seconds: float = 3.0) -> Fault:
        return cls("hang", seconds=seconds)

    @classmethod
    def disconnect(cls) -> Fault:
        return cls("disconnect")


@dataclass
class Call:
    """One request as the fake received it. `outcome` is "ok" or what was answered instead
    ("429", "403", "500", "error:<detail>", "disconnect", "401", "404"); "hang" while a hang
    lasts (then "ok": the call succeeds even if the client gave up), "stopped" if `stop()` ended
    it."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    outcome: str = field(default="", compare=False)


class FakeServer:
    """Server lifecycle, call recording, waiting and fault scheduling; subclasses add routes."""

    # Methods that `random_faults` may fail (the sending ones); subclasses set it.
    random_fault_methods: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._method_faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._chat_faults: defaultdict[Hashable, deque[Fault]] = defaultdict(deque)
        self._blocked: set[Hashable] = set()
        self._rng: random.Random | None = None
        self._rate_429 = 0.0
        self._rate_403 = 0.0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.port = 0

    # lifecycle

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self.port, "the fake server is not started"
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()  # releases hangs and long polls, so shutdown does not wait
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # recording and waiting

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the condition, not for I/O
        what: str = "",
    ) -> None:
        """Poll `predicate` until it holds; on timeout fail with the calls seen so far."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                seen = ", ".join(f"{c.method}:{c.outcome or '?'}" for c in self.calls[-20:])
                raise AssertionError(
                    f"{type(self).__name__}: timed out after {timeout} s waiting for "
                    f"{what or 'the condition'}; last calls: [{seen}]"
                )
            await asyncio.sleep(0.01)

    # fault scripting

    def fail(self, method: str, *faults: Fault) -> None:
        """The next calls of `method` (any chat) meet these faults, in order."""
        self._method_faults[method].extend(faults)

    def fail_for_chat(self, chat: Hashable, *faults: Fault) -> None:
        """The next calls addressed to `chat` (any method) meet these faults, in order."""
        self._chat_faults[self._chat_key(chat)].extend(faults)

    def block(self, chat: Hashable) -> None:
        """Every later call addressed to `chat` meets `Fault.forbidden()`."""
        self._blocked.add(self._chat_key(chat))

    def random_faults(self, rate_429: float = 0.0, rate_403: float = 0.0, seed: int = 1) -> None:
        """Fail sends at random: a 429 (retry after 1 s) with probability `rate_429`; with
        `rate_403` the chat is blocked, and stays blocked."""
        self._rng = random.Random(seed)
        self._rate_429 = rate_429
        self._rate_403 = rate_403

    @property
    def blocked(self) -> frozenset[Hashable]:
        return frozenset(self._blocked)

    @staticmethod
    def _chat_key(chat: Any) -> Hashable:
        """Chat ids arrive as text from forms; "123" and 123 are the same chat."""
        if isinstance(chat, str) and chat.lstrip("-").isdigit():
            return int(chat)
        return chat  # type: ignore[no-any-return]

    def _next_fault(self, method: str, chat: Any) -> Fault | None:
        key = self._chat_key(chat) if chat is not None else None
        if key is not None and key in self._blocked:
            return Fault.forbidden()
        if key is not None and self._chat_faults.get(key):
            return self._chat_faults[key].popleft()
        if self._method_faults.get(method):
            return self._method_faults[method].popleft()
        if self._rng is not None and method in self.random_fault_methods:
            draw = self._rng.random()
            if key is not None and draw < self._rate_403:
                self._blocked.add(key)
                return Fault.forbidden()
            if draw < self._rate_403 + self._rate_429:
                return Fault.too_many(retry_after=1)
        return None

    async def _hang(self, call: Call, seconds: float) -> bool:
        """Wait `seconds`, then carry on (True); False when `stop()` cut the wait short."""
        call.outcome = "hang"
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        call.outcome = "stopped"
        return False

    @staticmethod
    async def _read_params(request: web.Request) -> dict[str, Any]:
        """Query string, then a JSON or form body on top; uploaded files as "<file NAME>"."""
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                params[key] = value if isinstance(value, str) else _describe_upload(value)
        return params

    @staticmethod
    def _disconnect(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)  # never delivered: the connection is gone


def _describe_upload(value: web.FileField | bytes | bytearray) -> str:
    return f"<file {value.filename}>" if isinstance(value, web.FileField) else "<bytes>"
