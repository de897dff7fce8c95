"""Email as a channel: the sender port over SMTP (aiosmtplib), or .eml files without a server.

An outbox row for email holds the recipient's address as its chat id and the whole RFC 5322
message, as the composer built it, as its text. The sender parses it back and sends it unchanged
(envelope sender EMAIL_FROM's address, envelope recipient the row's address); its ref is the
message's Message-ID. Email cannot be edited: an edit sends nothing and reports the old ref.

SMTP: up to CONNECTIONS connections kept open, each reused for up to
SMTP_MESSAGES_PER_CONNECTION messages and then closed with QUIT; a connection that failed is
dropped and the next message opens a new one (a kept connection that the server had closed while
idle is replaced at once: the message goes on a new one in the same attempt). One throttle per
SMTP server (SMTP_MAX_PER_SECOND), waited before every message. Outcomes, as the chat platforms':
- a 4xx reply at any step (421, 450, 451, 452), a refused or dropped connection, a timeout, a
  failed login or STARTTLS: RetryLater (the outbox backs off and, after MAX_ATTEMPTS, gives up);
- a 5xx reply to RCPT TO (550 no such user, 551, 553 bad address, ...), or a 5xx to DATA that is
  about the address (550, 551, 553 or an enhanced status 5.1.x): Unreachable, final for that
  row; the outbox records it (status unreachable, last_error) and `hotline digest status`
  counts it. Except a refusal of our own sending (530, or an enhanced status 5.7.x such as
  "5.7.1 relay access denied"), which every recipient would get: RetryLater;
- any other 5xx (to MAIL FROM, e.g. 553 sender not allowed, or to DATA, e.g. 554 transaction
  failed, 552 too big): RetryLater with backoff. They say nothing about the recipient, usually
  about our configuration or the relay's policy, so the address is not marked unreachable; the
  row ends `failed` if it persists.
Errors carry the reply code and the server's text with any address in it masked; no message
text or address is ever logged.

Without SMTP_HOST each message is written to EMAIL_OUTBOX_DIR/<UTC time>-<Message-ID>.eml
(a temporary file, then os.replace, so a reader never sees half a message).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.parser
import email.policy
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path

import aiosmtplib

from bot.core.ports import RetryLater, SendResult, Sent, Unreachable
from bot.core.types import Reply
from bot.handlers.throttle import Throttle

log = logging.getLogger(__name__)

CHANNEL = "email"
# SMTP connections open at once to the server: enough that a relay's latency does not cap the
# rate below the throttle (each message takes four round trips), few enough for any relay's
# per-client connection limit.
CONNECTIONS = 4
TLS_MODES = ("starttls", "implicit", "none")
# Replies to DATA that are about the recipient rather than the message or the sender.
ADDRESS_CODES = frozenset({550, 551, 553})
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 587
    tls: str = "starttls"  # starttls | implicit | none
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    messages_per_connection: int = 100

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


def parse(text: str, headers_only: bool = False) -> EmailMessage:
    """The stored message read back; `headers_only` leaves the body unparsed (what sending
    needs: reading a whole multipart digest cost ten times as much CPU as its headers)."""
    parser = email.parser.Parser(policy=email.policy.default)
    message = parser.parsestr(text, headersonly=headers_only)
    assert isinstance(message, EmailMessage)  # the default policy's message factory
    return message


def masked(text: str, limit: int = 160) -> str:
    """A server's reply text, fit for a log line and last_error: addresses masked."""
    return _ADDRESS.sub("<address>", " ".join(text.split()))[:limit]


def _enhanced(text: str) -> str:
    status = text.split(maxsplit=1)
    return status[0] if status and re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", status[0]) else ""


def _about_us(code: int, text: str) -> bool:
    """A refusal of our own sending (530 authentication required, 5.7.x relay access denied),
    not of the address: every recipient would get it."""
    return code == 530 or _enhanced(text).startswith("5.7.")


def outcome_of(exc: Exception) -> RetryLater | Unreachable:
    """An SMTP failure as the outbox's outcome (see the module docstring)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]  # one recipient per message
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        if exc.code >= 500 and not _about_us(exc.code, exc.message):
            return Unreachable(f"{exc.code} recipient refused: {masked(exc.message)}")
        return RetryLater(f"{exc.code} recipient not accepted: {masked(exc.message)}")
    if isinstance(exc, aiosmtplib.SMTPDataError) and exc.code >= 500:
        about_address = exc.code in ADDRESS_CODES and not _about_us(exc.code, exc.message)
        if about_address or _enhanced(exc.message).startswith("5.1."):
            return Unreachable(f"{exc.code} message refused for the address: {masked(exc.message)}")
        return RetryLater(f"{exc.code} message refused: {masked(exc.message)}")
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return RetryLater(f"{exc.code} sender refused: {masked(exc.message)}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return RetryLater(f"{exc.code} login refused (check SMTP_USERNAME and SMTP_PASSWORD)")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return RetryLater(f"{exc.code} {masked(exc.message)}")
    if isinstance(exc, TimeoutError):  # aiosmtplib's timeouts are TimeoutErrors too
        return RetryLater("SMTP timeout")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return RetryLater(f"SMTP server does not support it: {masked(str(exc))}")
    detail = masked(str(exc), 120)
    reason = f"SMTP connection failed: {type(exc).__name__}"
    return RetryLater(f"{reason} ({detail})" if detail else reason)


class _Connection:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.tls == "implicit",
            start_tls=server.tls == "starttls",
            timeout=server.timeout_s,
        )
        self.messages = 0

    @property
    def worn(self) -> bool:
        return self.messages >= self.server.messages_per_connection

    async def close(self, polite: bool) -> None:
        """QUIT when the connection is sound, else just drop it."""
        if not self.client.is_connected:
            return
        if polite:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await self.client.quit()
                return
        self.client.close()


@dataclass(frozen=True)
class _Stale:
    """A kept connection turned out closed before the message went."""

    outcome: RetryLater | Unreachable


class EmailSender:
    """The sender port for email: SMTP when `smtp` is given, else .eml files in `outbox_dir`."""

    channel = CHANNEL

    def __init__(
        self,
        envelope_from: str,
        *,
        smtp: SmtpServer | None = None,
        outbox_dir: Path | None = None,
        throttle: Throttle | None = None,
        connections: int = CONNECTIONS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if smtp is None and outbox_dir is None:
            raise ValueError("an EmailSender needs an SMTP server or an outbox folder")
        self.envelope_from = parseaddr(envelope_from)[1] or envelope_from
        self.smtp = smtp
        self.outbox_dir = outbox_dir
        self.throttle = throttle or Throttle(None, 0.0)
        self._clock = clock
        self._slots = asyncio.Semaphore(max(1, connections))
        self._idle: list[_Connection] = []
        # counters, for the log and for tests: connections opened, messages the server accepted
        self.connections_opened = 0
        self.accepted = 0

    async def send(self, chat_id: str, reply: Reply) -> SendResult:
        try:
            message = parse(reply.text, headers_only=True)
            text = reply.text
            if message["Message-ID"] is None:  # the composer sets one; a relay would add its own
                message = parse(reply.text)
                message["Message-ID"] = make_msgid(domain=self.envelope_from.rpartition("@")[2])
                text = message.as_string(policy=email.policy.SMTP)
        except (ValueError, LookupError, TypeError) as exc:  # our own composer's bug
            log.error("email not parseable: %s", type(exc).__name__)
            return Unreachable(f"message not parseable: {type(exc).__name__}")
        # strip: Python reads a folded header (a long Message-ID) back with its leading space
        ref = str(message["Message-ID"]).strip()
        if self.smtp is None:
            return await self._write(text, ref)
        return await self._send_smtp(self.smtp, chat_id, text, ref)

    async def edit(self, chat_id: str, ref: str, reply: Reply) -> SendResult:
        return Sent(ref)  # a sent email cannot be changed; nothing new is sent

    async def _send_smtp(self, server: SmtpServer, chat_id: str, text: str, ref: str) -> SendResult:
        async with self._slots:
            # The throttle's slot is taken once a connection is ours, just before the message
            # goes: taken before waiting for a connection, slots spaced evenly here reached the
            # server bunched, above the limit within a second.
            await self.throttle.wait(server.name)
            kept = self._idle.pop() if self._idle else None
            if kept is not None:
                result = await self._over(kept, chat_id, text, ref)
                if not isinstance(result, _Stale):
                    return result
                # The server closed the kept connection while it was idle (its idle timeout,
                # before we noticed): nothing was sent, so once more on a new connection.
            result = await self._over(_Connection(server), chat_id, text, ref)
            return result.outcome if isinstance(result, _Stale) else result

    async def _over(
        self, conn: _Connection, chat_id: str, text: str, ref: str
    ) -> SendResult | _Stale:
        """Send the stored message as it is (its bytes unchanged: re-rendering would fold long
        headers such as List-Unsubscribe into encoded words) on this connection, opened first if
        need be; keep it for the next message unless it failed or has carried its share."""
        sound, reused = False, conn.client.is_connected
        try:
            if not reused:
                await conn.client.connect()
                self.connections_opened += 1
            await conn.client.sendmail(self.envelope_from, [chat_id], text.encode())
        except (aiosmtplib.SMTPException, OSError) as exc:
            # A refused recipient leaves the connection usable (aiosmtplib sent RSET).
            refused = aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPRecipientRefused
            sound = isinstance(exc, refused) and conn.client.is_connected
            outcome = outcome_of(exc)
            log.debug("email not sent server=%s reason=%s", conn.server.name, outcome.error)
            if reused and isinstance(exc, aiosmtplib.SMTPServerDisconnected):
                return _Stale(outcome)
            return outcome
        else:
            sound = True
            conn.messages += 1
            self.accepted += 1
            return Sent(ref)
        finally:
            if sound and not conn.worn:
                self._idle.append(conn)
            else:
                await conn.close(polite=sound)

    async def _write(self, text: str, ref: str) -> SendResult:
        assert self.outbox_dir is not None
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{_SAFE.sub('_', ref.strip('<> ')).strip('_')[:100] or 'message'}.eml"
        try:
            await asyncio.to_thread(_write_atomically, self.outbox_dir, name, text)
        except OSError as exc:
            return RetryLater(f"email not written: {type(exc).__name__}")
        self.accepted += 1
        return Sent(ref)

    async def aclose(self) -> None:
        """QUIT every open connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close(polite=True)


def _write_atomically(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".eml.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
