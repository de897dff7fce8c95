"""A real SMTP server for tests (aiosmtpd, on the test's own event loop, 127.0.0.1, a free port).

It records every message it accepts (envelope, raw bytes, parsed message, which connection carried
it) and can be scripted to misbehave like a real relay:

    async with FakeSmtp() as smtp:                 # or FakeSmtp(credentials=("user", "pw"))
        smtp.answer("550 5.1.1 No such user", recipients={"gone@example.org"})   # every time
        smtp.answer("450 4.2.1 Mailbox busy", times=1)       # the next RCPT TO, whoever it is
        smtp.answer("554 5.0.0 Transaction failed", at="DATA", times=2)
        smtp.answer("421 4.3.2 Shutting down", at="MAIL", times=1)   # and the server hangs up
        smtp.hang(at="DATA", times=1)              # no reply at all: the client times out
        smtp.drop(at="MAIL", times=1)              # hang up instead of answering
        smtp.random_faults(temporary=0.02, permanent=0.01, seed=5)   # a busy relay, at random
    FakeSmtp(tls="starttls", certificate=tls_certificate(tmp_path))   # or tls="implicit"
        await smtp.drop_connections()              # as an idle timeout: clients must reconnect
        await smtp.stop()                          # connection refused from now on
        await smtp.start()                         # back, on the same port

`smtp.messages` are the accepted ones (each with the monotonic time it was accepted);
`smtp.refused` the replies a fault gave (command, recipients, reply); `smtp.doomed` the addresses
random_faults refuses for good; `smtp.connections` how many connections were opened; `smtp.logins` the
user names that logged in. Usable from any test (the email sender's, the digest by email, the
scenarios); settings for the bot: `smtp.settings()` (SMTP_HOST, SMTP_PORT, SMTP_TLS=none...).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import ssl
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

COMMANDS = ("MAIL", "RCPT", "DATA")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage
    connection: int  # 1 for the first connection the server accepted, and so on
    login: str | None  # the user name the connection logged in with, if it did
    at: float = field(default_factory=time.monotonic)  # when it was accepted


@dataclass
class Fault:
    reply: str | None  # e.g. "450 4.2.1 Mailbox busy"; None: hang (never answer)
    at: str  # MAIL | RCPT | DATA
    recipients: frozenset[str] | None  # only for these addresses (RCPT, DATA); None: anyone
    times: int | None  # how many more times; None: every time
    drop: bool = False  # close the connection instead of answering

    def matches(self, command: str, recipients: tuple[str, ...]) -> bool:
        if self.at != command or self.times == 0:
            return False
        if self.recipients is None:
            return True
        return any(r.lower() in self.recipients for r in recipients)


@dataclass
class FakeSmtp:
    credentials: tuple[str, str] | None = None  # require AUTH (PLAIN/LOGIN) with these
    # "none", "starttls" (offered and required before MAIL) or "implicit" (TLS from the start),
    # with the certificate `tls_certificate` made (trust it with SSL_CERT_FILE=its cert)
    tls: str = "none"
    certificate: tuple[Path, Path] | None = None  # (cert, key) PEM files
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free one, chosen at the first start and kept across restarts
    messages: list[Received] = field(default_factory=list)
    refused: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    connections: int = 0
    hung: int = 0  # commands left unanswered so far
    dropped: int = 0  # connections closed by a drop() fault
    faults: list[Fault] = field(default_factory=list)
    doomed: set[str] = field(default_factory=set)  # random_faults' 550 addresses
    rcpt_at: list[float] = field(default_factory=list)  # every RCPT TO, answered or not
    _temporary: float = 0.0
    _permanent: float = 0.0
    _seen: set[str] = field(default_factory=set)
    _random: random.Random = field(default_factory=lambda: random.Random(1))
    _server: asyncio.Server | None = None
    _open: set[_Connection] = field(default_factory=set)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _none_open: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._none_open.set()

    # scripting

    def answer(
        self,
        reply: str,
        *,
        at: str = "RCPT",
        recipients: set[str] | frozenset[str] | None = None,
        times: int | None = None,
    ) -> Fault:
        """Answer `reply` instead of accepting, at MAIL FROM, RCPT TO or DATA (after the
        message's data), for the given recipients or anyone, `times` times or every time."""
        code = reply.split(maxsplit=1)[0]
        if at not in COMMANDS or not (code.isdigit() and len(code) == 3 and code[0] in "45"):
            raise ValueError(f"answer({reply!r}, at={at!r}): a 4xx or 5xx reply at {COMMANDS}")
        return self._add(Fault(reply, at, _lower(recipients), times))

    def hang(
        self,
        *,
        at: str = "DATA",
        recipients: set[str] | frozenset[str] | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Never answer that command (until the client gives up or the server stops)."""
        if at not in COMMANDS:
            raise ValueError(f"hang(at={at!r}): one of {COMMANDS}")
        return self._add(Fault(None, at, _lower(recipients), times))

    def drop(
        self,
        *,
        at: str = "MAIL",
        recipients: set[str] | frozenset[str] | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Close the connection instead of answering that command (a relay that restarts, or
        whose idle timeout closed the connection as the client was about to use it)."""
        if at not in COMMANDS:
            raise ValueError(f"drop(at={at!r}): one of {COMMANDS}")
        return self._add(Fault(None, at, _lower(recipients), times, drop=True))

    def random_faults(
        self, *, temporary: float = 0.0, permanent: float = 0.0, seed: int = 1
    ) -> None:
        """At RCPT TO, after the scripted faults: an address seen for the first time is refused
        for good (550, every time after too) with probability `permanent`; any other attempt is
        answered 450 (mailbox busy, try later) with probability `temporary`."""
        if not (0 <= temporary < 1 and 0 <= permanent < 1):
            raise ValueError("random_faults: rates are fractions from 0 to 1")
        self._temporary, self._permanent = temporary, permanent
        self._random = random.Random(seed)

    def _random_fault(self, address: str) -> str | None:
        address = address.lower()
        if address not in self._seen:
            self._seen.add(address)
            if self._permanent and self._random.random() < self._permanent:
                self.doomed.add(address)
        if address in self.doomed:
            return "550 5.1.1 No such user here"
        if self._temporary and self._random.random() < self._temporary:
            return "450 4.2.1 Mailbox busy, try again later"
        return None

    def clear(self) -> None:
        self.faults.clear()
        self._temporary = self._permanent = 0.0

    def _add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    # reading

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def per_connection(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for m in self.messages:
            counts[m.connection] = counts.get(m.connection, 0) + 1
        return counts

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def all_closed(self, within_s: float = 5.0) -> bool:
        """Whether every client connection has gone (after their QUIT) within `within_s`."""
        async with asyncio.timeout(within_s):
            await self._none_open.wait()
        return True

    def settings(self, **more: Any) -> dict[str, Any]:
        """Settings (load_settings keyword arguments) that send to this server."""
        base: dict[str, Any] = {"smtp_host": self.host, "smtp_port": self.port, "smtp_tls": "none"}
        if self.credentials is not None:
            base |= {"smtp_username": self.credentials[0], "smtp_password": self.credentials[1]}
        return base | more

    # lifetime

    async def start(self) -> FakeSmtp:
        loop = asyncio.get_running_loop()
        self._release = asyncio.Event()
        self._server = await loop.create_server(
            lambda: _Connection(self, loop),
            self.host,
            self.port,
            ssl=self._tls_context() if self.tls == "implicit" else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every open connection (a hanging command ends too)."""
        self._release.set()
        if self._server is not None:
            self._server.close()
        for conn in list(self._open):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # let the closed connections' handlers finish

    async def drop_connections(self) -> None:
        """Close every open connection without a word, as a relay's idle timeout does; the
        server goes on listening."""
        for conn in list(self._open):
            if conn.transport is not None:
                conn.transport.close()
        await self.all_closed()

    async def __aenter__(self) -> FakeSmtp:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _tls_context(self) -> ssl.SSLContext:
        if self.certificate is None:
            raise ValueError(f"FakeSmtp(tls={self.tls!r}) needs a certificate (tls_certificate)")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.certificate)
        return context

    # the handler aiosmtpd calls

    async def _fault(self, server: _Connection, command: str, rcpts: tuple[str, ...]) -> str | None:
        for fault in self.faults:
            if fault.matches(command, rcpts):
                if fault.times is not None:
                    fault.times -= 1
                if fault.drop:
                    self.dropped += 1
                    if server.transport is not None:
                        server.transport.close()
                    await self._release.wait()  # cancelled as the connection goes
                    return "421 4.3.0 Dropped"
                if fault.reply is None:
                    self.hung += 1
                    await self._release.wait()
                    return "451 4.3.0 Hung up"
                self.refused.append((command, rcpts, fault.reply))
                return fault.reply
        return None

    async def handle_MAIL(
        self,
        server: _Connection,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if (reply := await self._fault(server, "MAIL", ())) is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: _Connection,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.rcpt_at.append(time.monotonic())
        if (reply := await self._fault(server, "RCPT", (address,))) is not None:
            return reply
        if (reply := self._random_fault(address)) is not None:
            self.refused.append(("RCPT", (address,), reply))
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: _Connection, session: Session, envelope: Envelope) -> str:
        rcpts = tuple(envelope.rcpt_tos)
        if (reply := await self._fault(server, "DATA", rcpts)) is not None:
            return reply
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.messages.append(
            Received(envelope.mail_from or "", rcpts, raw, message, server.number, login)
        )
        return "250 2.0.0 Message accepted"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        if given != self.credentials:
            return AuthResult(success=False, handled=False)
        self.logins.append(given[0])
        return AuthResult(success=True, auth_data=auth_data)


class _Connection(SMTP):
    """One client connection; numbered in the order the server accepted them."""

    def __init__(self, fake: FakeSmtp, loop: asyncio.AbstractEventLoop) -> None:
        with warnings.catch_warnings():  # AUTH without TLS is what a test on 127.0.0.1 wants
            warnings.simplefilter("ignore")
            starttls = fake.tls == "starttls"
            super().__init__(
                fake,
                hostname="fake-smtp.test",
                loop=loop,
                tls_context=fake._tls_context() if starttls else None,
                require_starttls=starttls,
                enable_SMTPUTF8=True,
                auth_required=fake.credentials is not None,
                auth_require_tls=False,
                authenticator=fake._authenticate,
            )
        self.fake = fake
        self.number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.fake.connections += 1
        self.number = self.fake.connections
        self.fake._open.add(self)
        self.fake._none_open.clear()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.fake._open.discard(self)
        if not self.fake._open:
            self.fake._none_open.set()
        super().connection_lost(error)


def _lower(recipients: set[str] | frozenset[str] | None) -> frozenset[str] | None:
    return None if recipients is None else frozenset(r.lower() for r in recipients)


def tls_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (openssl), valid two days."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
