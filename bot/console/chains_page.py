"""The chains page (/console/rota/chains): who an emergency of each category would ping now,
step by step, from the stored rota (the same `chain_plan` as `hotline rota show --category`);
admins import a new rota file there (escalation chains, hours, closures, shifts), checked like
`hotline rota import`: every problem with its line, nothing stored unless the whole file is
good."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
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
from bot.escalation.categories import CATEGORIES
from bot.escalation.policy import chain_plan
from bot.escalation.rota_file import parse_rota_text
from bot.escalation.rota_store import rota_and_duty, store_rota
from bot.store.models import RotaVersion

log = logging.getLogger(__name__)

PAGE = "/console/rota/chains"
IMPORT = "/console/rota/import"
FILE_CHARS = 200_000
DONE = {
    "imported": "The rota file was imported: it is the rota from now on.",
    "unchanged": "That file is the current rota already: nothing changed.",
}


async def _show(
    request: Request,
    signed: Signed,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    text: str = "",
) -> Response:
    bot = bot_of(request)
    now = now_of(request)
    tz = bot.deps.timezone
    async with bot.db.reading() as session:
        found = await rota_and_duty(session, now)
        latest = await session.scalar(select(RotaVersion).order_by(RotaVersion.id.desc()).limit(1))
    plans: list[Any] = []
    in_hours = False
    if found is not None:
        rota, duty = found
        in_hours = duty.in_hours
        plans = [
            chain_plan(rota, duty, category, bot.deps.escalation.ack_timeout)
            for category in CATEGORIES
        ]
    return page(
        "rota_chains.html",
        status,
        title="Escalation chains",
        signed=signed,
        current="/console/rota",
        plans=plans,
        in_hours=in_hours,
        at=now.astimezone(tz).strftime("%a %d %b %Y %H:%M"),
        source=latest.source if latest else None,
        imported=latest.imported_at.astimezone(tz).strftime("%d %b %Y %H:%M") if latest else None,
        errors=errors or {},
        problems=problems or [],
        text=text,
        notice=DONE.get(request.query_params.get("done", "")),
    )


async def chains_view(request: Request, signed: Signed) -> Response:
    return await _show(request, signed)


def _rota_text(request: Request, form: dict[str, str], errors: dict[str, str]) -> tuple[str, str]:
    """The file to import (text, source name): the uploaded "Rota file" or the pasted text."""
    chosen = uploaded(request, "file")
    pasted = form.get("rota", "").strip()
    if chosen is not None:
        filename, raw = chosen
        name = Path(filename).name[:100] or "rota.yaml"
        if pasted:
            errors["file"] = "Give a file or paste the rota, not both."
        elif not name.endswith((".yaml", ".yml")):
            errors["file"] = f"{name}: expected a .yaml or .yml file."
        elif len(raw) > FILE_CHARS:
            errors["file"] = f"{name} is too large (at most {FILE_CHARS // 1000} kB)."
        else:
            try:
                return raw.decode("utf-8-sig"), name
            except UnicodeDecodeError:
                errors["file"] = f"{name} is not UTF-8 text."
        return "", name
    text = text_field(form, "rota", errors, label="Rota (YAML)", max_chars=FILE_CHARS)
    if errors.get("rota") and not text:
        errors["rota"] = "Choose a rota file, or paste the rota here."
    return text, "rota.yaml"


async def import_rota(request: Request, signed: Signed) -> Response:
    form = await form_of(request)
    errors: dict[str, str] = {}
    text, source = _rota_text(request, form, errors)
    problems: list[str] = []
    changed = False
    if not errors:
        try:
            rota = parse_rota_text(text, source)
            async with bot_of(request).db.session() as session:
                changed = await store_rota(session, rota, source)
                if changed:
                    record(session, actor(request, signed), "rota import", "rota", detail=source)
        except DataError as exc:
            problems = list(exc.problems)
    if errors or problems:
        pasted = form.get("rota", "")[:FILE_CHARS]
        return await _show(
            request, signed, status=400, errors=errors, problems=problems, text=pasted
        )
    log.info("console rota import person=%d changed=%s", signed.person.id, changed)
    return back_to(f"{PAGE}?done={'imported' if changed else 'unchanged'}")


def routes() -> list[BaseRoute]:
    return [
        Route(PAGE, staff_only(chains_view), methods=["GET"]),
        Route(IMPORT, staff_only(import_rota, post=True, admin=True), methods=["POST"]),
    ]
