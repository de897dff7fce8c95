"""News and events files: parsing and validation, pure apart from reading the file.

A news file has a `news:` list, an events file an `events:` list (documented at the top of
`data/example/news.yaml` and `events.yaml`). Every problem is collected, one line each naming
file, line, item (number and id or title) and field, so an import refuses the whole file rather
than half-applying it. The CLI's `add` commands and the staff chat commands build the same raw
mapping and go through `build_record`, so they say the same things about the same mistakes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.datafile import BadYaml, Problems, parse_yaml, read_text
from bot.core.errors import DataError
from bot.digest.audience import PHASES, ROLES, Audience, check_values
from bot.store.models import ContentKind

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
URL = re.compile(r"^https?://[^\s()<>\[\]]+$")
MAX_TITLE = 200
MAX_TEXT = 1500
MAX_LABEL = 100
MAX_LOCATION = 200
MAX_LINK = 500  # the column's width

NEWS_FIELDS = frozenset(("id", "title", "text", "date", "publish_until", "link", "link_label"))
EVENT_FIELDS = frozenset(
    (
        "id",
        "title",
        "text",
        "date",
        "end",
        "location",
        "publish_from",
        "publish_until",
        "link",
        "link_label",
    )
)
SECTION = {ContentKind.NEWS: "news", ContentKind.EVENT: "events"}


@dataclass(frozen=True, slots=True)
class ContentRecord:
    kind: ContentKind
    slug: str
    title: str
    body: str
    link_url: str | None
    link_label: str | None
    location: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    all_day: bool
    publish_from: datetime | None
    publish_until: datetime | None
    audience: Audience

    @property
    def content_hash(self) -> str:
        payload = [
            self.kind.value,
            self.title,
            self.body,
            self.link_url,
            self.link_label,
            self.location,
            *(
                v.isoformat() if v else None
                for v in (self.starts_at, self.ends_at, self.publish_from, self.publish_until)
            ),
            self.all_day,
            *self.audience.columns(),
        ]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_when(value: Any, tz: ZoneInfo) -> tuple[datetime, bool] | None:
    """A date (all day, local midnight) or a local date and time; UTC out, None if unreadable."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=tz)
        return moment.astimezone(UTC), False
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=tz).astimezone(UTC), True
    if not isinstance(value, str):
        return None
    raw = value.strip()
    try:
        if len(raw) == 10:
            return parse_when(date.fromisoformat(raw), tz)
        return parse_when(datetime.fromisoformat(raw), tz)
    except ValueError:
        return None


def _when(
    raw: dict[str, Any], field: str, tz: ZoneInfo, out: Problems, required: bool = False
) -> tuple[datetime, bool] | None:
    value = raw.get(field)
    if value is None or value == "":
        if required:
            out.add("missing (a date like 2026-12-03, or 2026-12-03 16:00)", field=field)
        return None
    when = parse_when(value, tz)
    if when is None:
        out.add(
            f"{str(value)[:40]!r} is not a date like 2026-12-03 or 2026-12-03 16:00", field=field
        )
    return when


def _audience(value: Any, out: Problems) -> Audience:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("all", "")):
        return Audience()
    if not isinstance(value, dict):
        out.add("use `all` or a mapping with `phases:` and / or `roles:`", field="audience")
        return Audience()
    for key in sorted(set(value) - {"phases", "roles"}, key=str):
        out.add("unknown (use phases and roles)", field=f"audience.{key}")
    lists: dict[str, tuple[str, ...]] = {}
    for key, allowed in (("phases", PHASES), ("roles", ROLES)):
        items = value.get(key) or []
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list):
            out.add("expected a list", field=f"audience.{key}")
            items = []
        spaces = r"[\s_-]+" if key == "roles" else r"\s+"  # "business-manager" is a role too
        cleaned = tuple(dict.fromkeys(re.sub(spaces, " ", str(v)).strip().lower() for v in items))
        bad = check_values(cleaned, allowed)
        if bad:
            out.add(
                f"unknown {', '.join(repr(b) for b in bad)} (one of {', '.join(allowed)})",
                field=f"audience.{key}",
            )
        lists[key] = tuple(v for v in cleaned if v not in bad)
    return Audience(lists["phases"], lists["roles"])


def build_record(
    kind: ContentKind, raw: dict[str, Any], tz: ZoneInfo, where: str
) -> tuple[ContentRecord | None, list[str]]:
    """Validate one item; `where` prefixes every problem (e.g. "news.yaml:4: item 1 (x)")."""
    out = Problems(where)
    known = NEWS_FIELDS if kind is ContentKind.NEWS else EVENT_FIELDS
    for key in sorted(set(raw) - known - {"audience"}, key=str):
        out.add(
            f"unknown field (expected {', '.join(sorted(known | {'audience'}))})", field=str(key)
        )
    slug = _text(raw.get("id"))
    if not slug:
        out.add("missing (a stable id such as autumn-conference-2026)", field="id")
    elif not SLUG.match(slug):
        out.add(f"{slug[:40]!r}: use lower-case letters, digits and -, at most 80", field="id")
    title = _text(raw.get("title"))
    if not title:
        out.add("missing", field="title")
    elif len(title) > MAX_TITLE:
        out.add(f"too long ({len(title)} characters, at most {MAX_TITLE})", field="title")
    body = _text(raw.get("text")) or ""
    if kind is ContentKind.NEWS and not body:
        out.add("missing", field="text")
    elif len(body) > MAX_TEXT:
        out.add(f"too long ({len(body)} characters, at most {MAX_TEXT})", field="text")
    link = _text(raw.get("link"))
    if link and len(link) > MAX_LINK:
        out.add(f"too long (at most {MAX_LINK} characters)", field="link")
    elif link and not URL.match(link):
        out.add(f"{link[:60]!r} is not an http(s) address", field="link")
    label = _text(raw.get("link_label"))
    if label and len(label) > MAX_LABEL:
        out.add(f"too long (at most {MAX_LABEL} characters)", field="link_label")
    if label and not link:
        out.add("given without a link", field="link_label")
    location = _text(raw.get("location"))
    if location and len(location) > MAX_LOCATION:
        out.add(f"too long (at most {MAX_LOCATION} characters)", field="location")
    audience = _audience(raw.get("audience"), out)

    when = _when(raw, "date", tz, out, required=True)
    until = _when(raw, "publish_until", tz, out)
    starts_at = ends_at = publish_from = None
    all_day = False
    if kind is ContentKind.NEWS:
        publish_from = when[0] if when else None
    else:
        if when:
            starts_at, all_day = when
        end = _when(raw, "end", tz, out)
        ends_at = end[0] if end else None
        if starts_at and ends_at and ends_at < starts_at:
            out.add("before the event's date", field="end")
        start_publish = _when(raw, "publish_from", tz, out)
        publish_from = start_publish[0] if start_publish else None
    if until and publish_from and until[0] <= publish_from:
        out.add("not after the start of the publish window", field="publish_until")
    if out or not slug or not title:
        return None, out.messages
    return (
        ContentRecord(
            kind=kind,
            slug=slug,
            title=title,
            body=body,
            link_url=link,
            link_label=label,
            location=location,
            starts_at=starts_at,
            ends_at=ends_at,
            all_day=all_day,
            publish_from=publish_from,
            publish_until=until[0] if until else None,
            audience=audience,
        ),
        [],
    )


class ItemProblems(DataError):
    """An item typed in a form was refused: `fields` maps each field (as build_record names
    it: title, date, audience.phases, ...) to its first problem, in build_record's words."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__([f"{field}: {message}" for field, message in fields.items()])
        self.fields = fields


def check_item(kind: ContentKind, raw: dict[str, Any], tz: ZoneInfo) -> ContentRecord:
    """`build_record` for one item typed by hand (the console's forms): the record, or
    ItemProblems with the same messages the CLI and chat give, by field."""
    record, problems = build_record(kind, raw, tz, "")
    if record is not None:
        return record
    fields: dict[str, str] = {}
    for problem in problems:
        field, _, what = problem.removeprefix(": ").partition(": ")
        fields.setdefault(field, what)
    raise ItemProblems(fields)


def _label(n: int, item: dict[str, Any]) -> str:
    name = _text(item.get("id")) or _text(item.get("title"))
    return f"item {n}" + (f" ({name[:60]})" if name else "")


def parse_text(
    text: str, kind: ContentKind, tz: ZoneInfo, filename: str
) -> tuple[list[ContentRecord], list[str]]:
    section = SECTION[kind]
    try:
        document = parse_yaml(text, filename)
    except BadYaml as exc:
        return [], exc.problems
    data = document.data
    out = Problems(filename)
    other = SECTION[ContentKind.EVENT if kind is ContentKind.NEWS else ContentKind.NEWS]
    if isinstance(data, dict) and section not in data and other in data:
        out.add(f"this is an {other} file (`{other}:`); expected `{section}:`")
        return [], out.messages
    if not isinstance(data, dict) or not isinstance(data.get(section), list):
        out.add(f"expected a mapping with a `{section}:` list")
        return [], out.messages
    for key in sorted(set(data) - {section}, key=str):
        out.add(f"unknown section {key!r} (expected {section})")
    records: list[ContentRecord] = []
    seen: dict[str, int] = {}
    for n, item in enumerate(data[section], start=1):
        line = document.lines.get((section, n - 1))
        if not isinstance(item, dict):
            out.add(f"item {n}: expected a mapping with id, title, ...", line)
            continue
        record, found = build_record(kind, item, tz, f"{out.where(line)}: {_label(n, item)}")
        out.extend(found)
        if record is None:
            continue
        if record.slug in seen:
            out.add(f"duplicate (also item {seen[record.slug]})", line, f"{_label(n, item)}: id")
            continue
        seen[record.slug] = n
        records.append(record)
    return records, out.messages


def parse_file(path: Path, kind: ContentKind, tz: ZoneInfo) -> list[ContentRecord]:
    """Read and validate a news or events file; raise DataError with every problem found."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise DataError([f"{path.name}: expected a .yaml or .yml file"])
    records, problems = parse_text(read_text(path), kind, tz, path.name)
    if problems:
        raise DataError(problems)
    return records
