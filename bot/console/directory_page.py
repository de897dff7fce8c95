"""The directory page: schools and people, each person's linked chat accounts and digest
subscription, with a search. Admins invite (a one-time code, its Telegram link and a QR code of
it), unlink an account, mark a person inactive or active, and import a YAML or CSV directory
with the same all-or-nothing validation as `hotline directory import`.

Every change calls the domain function the `hotline directory` commands call (bot/directory/)
and adds its audit entry in the same transaction.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import segno
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.console.common import (
    Signed,
    actor,
    back_to,
    bot_of,
    form_of,
    now_of,
    page,
    staff_only,
    text_field,
    uploaded,
)
from bot.core.errors import DataError
from bot.directory.audit import record
from bot.directory.identities import masked, unlink_identity
from bot.directory.importer import apply_directory_in
from bot.directory.invites import create_invite, telegram_link
from bot.directory.people import Listing, all_schools, listing, set_active
from bot.directory.records import format_of, parse_directory_text
from bot.store.models import Person

log = logging.getLogger(__name__)

PAGE = "/console/directory"
SHOWN = 300  # people on one page; the search narrows a large directory
SEARCH_CHARS = 100
IMPORT_CHARS = 900_000  # under the web app's body limit
FORMATS = (("yaml", "YAML"), ("csv", "CSV"))
STATUSES = (("", "Everyone"), ("active", "Active"), ("inactive", "Inactive"))
INACTIVE_MEANS = (
    "An inactive person is not recognised when they write to the bot, is not pinged for "
    "requests, gets no digest and cannot sign in here. Their linked accounts are kept, so "
    "marking them active again restores all of it. An import does not change who is active. "
    "An unlinked account is a stranger to the bot until it is linked again: with an invitation "
    "code, or on Slack by the workspace's email of an active person."
)
NOTICES = {
    "unlinked": "Unlinked a chat account of {name}. That account is a stranger to the bot now.",
    "deactivated": "{name} is inactive now.",
    "activated": "{name} is active again.",
    "imported": "Imported the directory: {created} created, {updated} updated, "
    "{unchanged} unchanged.",
}


@dataclass(frozen=True)
class Filters:
    search: str
    school: int | None
    status: str

    @property
    def active(self) -> bool | None:
        return {"active": True, "inactive": False}.get(self.status)

    def query(self, **extra: str | int) -> str:
        values: dict[str, str | int] = {}
        if self.search:
            values["q"] = self.search
        if self.school is not None:
            values["school"] = self.school
        if self.status:
            values["status"] = self.status
        values.update(extra)
        return f"?{urlencode(values)}" if values else ""


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _filters(values: Any) -> Filters:
    status = str(values.get("status", "")).strip()
    return Filters(
        search=str(values.get("q", "")).strip()[:SEARCH_CHARS],
        school=_int(values.get("school")),
        status=status if status in ("active", "inactive") else "",
    )


def _person_row(person: Person) -> dict[str, Any]:
    accounts = sorted(person.identities, key=lambda i: (i.channel, i.id))
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "role": person.role.value,
        "school": person.school.name if person.school else "",
        "active": person.active,
        "digest": person.digest_subscribed,
        "accounts": [
            {
                "id": i.id,
                "channel": i.channel,
                "account": masked(i.external_id),
                "reachable": i.reachable,
            }
            for i in accounts
        ],
    }


async def _show(
    request: Request,
    signed: Signed,
    filters: Filters,
    *,
    status: int = 200,
    notice: str | None = None,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
    import_problems: list[str] | None = None,
    import_text: str = "",
    import_format: str = "yaml",
    import_from: str = "",
) -> Response:
    bot = bot_of(request)
    async with bot.db.reading() as session:
        found: Listing = await listing(
            session, filters.search, school_id=filters.school, active=filters.active, limit=SHOWN
        )
        schools = await all_schools(session)
    return page(
        "directory.html",
        status,
        title="Directory",
        signed=signed,
        current=PAGE,
        notice=notice,
        problem=problem,
        errors=errors or {},
        people=[_person_row(p) for p in found.people],
        matched=found.matched,
        schools=[
            {
                "code": r.school.code,
                "name": r.school.name,
                "phase": r.school.phase,
                "people": r.people,
            }
            for r in found.schools
        ],
        school_options=[("", "All schools")] + [(str(s.id), s.name) for s in schools],
        status_options=STATUSES,
        filters=filters,
        formats=FORMATS,
        import_problems=import_problems or [],
        import_text=import_text,
        import_format=import_format,
        import_from=import_from,
        inactive_means=INACTIVE_MEANS,
    )


async def _notice(request: Request) -> str | None:
    params = request.query_params
    template = NOTICES.get(params.get("done", ""))
    if template is None:
        return None
    if "{name}" in template:
        person_id = _int(params.get("person"))
        async with bot_of(request).db.reading() as session:
            person = await session.get(Person, person_id) if person_id is not None else None
        return template.format(name=person.name) if person is not None else None
    counts = {k: _int(params.get(k)) or 0 for k in ("created", "updated", "unchanged")}
    return template.format(**counts)


async def directory(request: Request, signed: Signed) -> Response:
    return await _show(
        request, signed, _filters(request.query_params), notice=await _notice(request)
    )


async def _refuse(request: Request, signed: Signed, filters: Filters, problem: str) -> Response:
    """A button's form that cannot be done (unknown, stale): 400, the page, nothing changed."""
    return await _show(request, signed, filters, status=400, problem=problem)


async def invite(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    bot = bot_of(request)
    person_id = _int(form.get("person"))
    days = bot.settings.invite_days
    code = None
    async with bot.db.session() as session:
        person = await session.get(Person, person_id) if person_id is not None else None
        if person is not None and person.active:
            code = await create_invite(session, person, now_of(request), timedelta(days=days))
            record(
                session,
                actor(request, signed),
                "invite",
                person.email,
                about=person.id,
                detail=f"invitation code valid {days} days",
            )
    if person is None:
        return await _refuse(
            request, signed, filters, "That person is not in the directory. Reload the page."
        )
    if code is None:
        return await _refuse(
            request,
            signed,
            filters,
            f"{person.name} is inactive and cannot be invited: mark them active first.",
        )
    log.info("console invite person=%d by=%d", person.id, signed.person.id)
    settings = bot.settings
    link = telegram_link(settings.telegram_bot_username, code)
    qr = qr_image(link) if link is not None else None
    return page(
        "directory_invite.html",
        title=f"Invitation for {person.name}",
        signed=signed,
        current=PAGE,
        who=person.name,
        code=code,
        days=days,
        link=link,
        qr=qr,
        telegram=bool(settings.telegram_token or settings.telegram_bot_username),
        slack=bool(settings.slack_bot_token),
        back=PAGE + filters.query(),
    )


def qr_svg(text: str) -> bytes:
    """A QR code of `text` as an SVG document (no style attributes: the console's CSP)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False, nl=False
    )
    return out.getvalue()


def qr_image(text: str) -> str:
    """The QR code as a data: URL for an <img> (the CSP's img-src allows data:)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text)).decode()


async def unlink(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    identity_id, person_id = _int(form.get("identity")), _int(form.get("person"))
    bot = bot_of(request)
    async with bot.db.session() as session:
        removed = None
        if identity_id is not None and person_id is not None:
            removed = await unlink_identity(session, identity_id, person_id)
        if removed is not None:
            record(
                session,
                actor(request, signed),
                "unlink",
                removed.person.email,
                about=removed.person_id,
                detail=f"{removed.channel} account {masked(removed.external_id)}",
            )
    if removed is None:
        return await _refuse(
            request,
            signed,
            filters,
            "That chat account is not linked to this person any more (someone may have "
            "unlinked it already). Nothing was changed.",
        )
    return back_to(PAGE + filters.query(done="unlinked", person=removed.person_id))


async def _set_active(request: Request, signed: Signed, active: bool) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    person_id = _int(form.get("person"))
    if person_id == signed.person.id and not active:
        return await _refuse(
            request,
            signed,
            filters,
            "You cannot mark yourself inactive: you would be signed out. Ask another admin.",
        )
    verb = "activate" if active else "deactivate"
    state = "active" if active else "inactive"
    async with bot_of(request).db.session() as session:
        person = await session.get(Person, person_id) if person_id is not None else None
        changed = person is not None and await set_active(session, person, active)
        if person is not None and changed:
            record(session, actor(request, signed), verb, person.email, about=person.id)
    if person is None:
        return await _refuse(request, signed, filters, "That person is not in the directory.")
    if not changed:
        return await _refuse(
            request,
            signed,
            filters,
            f"{person.name} is already {state} (someone may have changed it). Nothing was changed.",
        )
    done = "activated" if active else "deactivated"
    return back_to(PAGE + filters.query(done=done, person=person.id))


async def deactivate(request: Request, signed: Signed) -> Response:
    return await _set_active(request, signed, False)


async def activate(request: Request, signed: Signed) -> Response:
    return await _set_active(request, signed, True)


def _upload(request: Request) -> tuple[str, bytes] | None:
    """The file chosen as "Directory file" (name, bytes), if any."""
    return uploaded(request, "file")


def _directory_text(
    request: Request, form: dict[str, str], errors: dict[str, str]
) -> tuple[str, str, str]:
    """What to import: (text, format, source name), from the uploaded file or the pasted text;
    what is wrong with them in `errors`."""
    filename, raw = _upload(request) or ("", b"")
    pasted = form.get("directory", "").strip()
    fmt = form.get("format", "")
    if fmt not in dict(FORMATS):
        errors["format"] = "Choose YAML or CSV."
    if filename or raw:  # a file was chosen
        if pasted:
            errors["file"] = "Give a file or paste the directory, not both."
            return "", fmt, ""
        name = Path(filename).name[:100] or "directory"
        fmt_of_name = format_of(name)
        if fmt_of_name is None:
            errors["file"] = f"{name}: expected a .yaml, .yml or .csv file."
        elif len(raw) > IMPORT_CHARS:
            errors["file"] = f"{name} is too large (at most {IMPORT_CHARS // 1000} kB)."
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                errors["file"] = f"{name} is not UTF-8 text."
            else:
                errors.pop("format", None)  # the file's name says which
                return text, fmt_of_name, name
        return "", fmt, name
    text = text_field(
        form, "directory", errors, label="Directory (YAML or CSV)", max_chars=IMPORT_CHARS
    )
    if errors.get("directory") and not text:
        errors["directory"] = "Choose a directory file, or paste the directory here."
    return text, fmt, f"directory.{fmt}"


async def import_directory(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    filters = _filters(form)
    errors: dict[str, str] = {}
    text, fmt, source = _directory_text(request, form, errors)
    from_file = _upload(request) is not None
    problems: list[str] = []
    if not errors:
        try:
            parsed = parse_directory_text(text, source, fmt)
            async with bot_of(request).db.session() as session:
                summary = await apply_directory_in(session, parsed, source)
                record(
                    session,
                    actor(request, signed),
                    "import",
                    "directory",
                    detail=f"{source}: {summary}",
                )
        except DataError as exc:
            problems = list(exc.problems)
    if errors or problems:
        return await _show(
            request,
            signed,
            filters,
            status=400,
            errors=errors,
            import_problems=problems,
            import_text=form.get("directory", "")[:IMPORT_CHARS],
            import_format=fmt if fmt in dict(FORMATS) else "yaml",
            import_from="file" if from_file else "text",
        )
    log.info("console directory import by=%d: %s", signed.person.id, summary)
    return back_to(
        PAGE
        + filters.query(
            done="imported",
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
    )


def routes() -> list[BaseRoute]:
    def admin_post(handler: Any) -> Any:
        return staff_only(handler, post=True, admin=True)

    return [
        Route(PAGE, staff_only(directory), methods=["GET"]),
        Route(f"{PAGE}/invite", admin_post(invite), methods=["POST"]),
        Route(f"{PAGE}/unlink", admin_post(unlink), methods=["POST"]),
        Route(f"{PAGE}/deactivate", admin_post(deactivate), methods=["POST"]),
        Route(f"{PAGE}/activate", admin_post(activate), methods=["POST"]),
        Route(f"{PAGE}/import", admin_post(import_directory), methods=["POST"]),
    ]
