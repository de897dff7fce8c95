"""The console's requests pages (bot/console/requests_page.py): the inbox and its filters, the
live fragment htmx polls, a request's page with its messages and timeline, and Acknowledge,
Resolve, Add note and Reply to member with the chat's effects, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.console.security import COOKIE, sign_session
from bot.core import texts
from bot.core.types import IncomingMessage
from bot.delivery.outbox import deliver_due
from bot.escalation.inbox import Filters, recent_requests
from bot.store.models import (
    AuditEntry,
    ConsoleLink,
    HotlineRequest,
    OutboundMessage,
    Person,
    RequestEvent,
    RequestKind,
    RequestStatus,
    School,
)
from tests.conftest import run_hotline
from tests.console.conftest import SECRET, START, Console
from tests.factories import make_person
from tests.fakes import RecordingSender

REFERENCE = re.compile(r"HL-\d{4}-\d{4,}")
VERSION = re.compile(r'name="version" value="(\d+)"')
TITLE = re.compile(r"<title>(.*?)</title>")


async def emergency(c: Console, member: Person, text: str) -> str:
    found = REFERENCE.search(await c.chat(member, f"/emergency {text}"))
    assert found is not None
    return found.group()


async def support(c: Console, member: Person, text: str) -> str:
    await c.chat(member, f"/human {text}")
    async with c.db.session() as session:
        request = await session.scalar(
            select(HotlineRequest)
            .where(HotlineRequest.person_id == member.id)
            .order_by(HotlineRequest.id.desc())
            .limit(1)
        )
    assert request is not None and request.kind is RequestKind.SUPPORT and request.reference
    return request.reference


async def request_row(c: Console, reference: str) -> HotlineRequest:
    async with c.db.session() as session:
        found = await session.scalar(
            select(HotlineRequest).where(HotlineRequest.reference == reference)
        )
    assert found is not None
    return found


async def audit(c: Console, action: str) -> list[AuditEntry]:
    async with c.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows)


async def outbox(c: Console) -> list[OutboundMessage]:
    async with c.db.session() as session:
        return list(await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


async def events(c: Console, reference: str) -> list[str]:
    request = await request_row(c, reference)
    async with c.db.session() as session:
        rows = await session.scalars(
            select(RequestEvent.kind)
            .where(RequestEvent.request_id == request.id)
            .order_by(RequestEvent.id)
        )
        return list(rows)


async def deliver(c: Console, sender: RecordingSender) -> int:
    return await deliver_due(c.db, {"console": sender}, c.clock)


async def state(c: Console) -> tuple[Any, ...]:
    """Everything an action could change: requests, events, the outbox, the audit log."""
    async with c.db.session() as session:
        requests = [
            (r.id, r.status, r.version, r.acknowledged_by_id, r.resolution_note)
            for r in await session.scalars(select(HotlineRequest).order_by(HotlineRequest.id))
        ]
        counted = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (RequestEvent, OutboundMessage, AuditEntry)
        ]
    return (requests, *counted)


def form_of_page(text: str, csrf: str, **fields: str) -> dict[str, str]:
    version = VERSION.search(text)
    assert version is not None, "no version on the page"
    return {"csrf": csrf, "version": version.group(1), **fields}


def beside(text: str, name: str) -> str:
    """The message shown beside a field (or in place of its form)."""
    found = re.search(rf'id="err-{name}">([^<]*)<', text)
    assert found is not None, f"no message beside {name}"
    return found.group(1)


async def test_the_inbox_lists_open_requests_newest_first_with_links_and_filters(
    c: Console,
) -> None:
    other = await make_person(c.db, name="Ola Other")
    first = await emergency(c, c.member, "the boiler has exploded in the hall")
    c.clock.advance(minutes=5)
    second = await support(c, other, "please ring me about our SEND funding bid")
    c.clock.advance(days=2)
    third = await emergency(
        c, other, "a journalist from the local paper is asking about the incident"
    )
    assert await c.chat(c.staff, f"/resolve {third} police came, all safe") == (
        texts.YOU_RESOLVED.format(reference=third)
    )
    async with c.db.session() as session:
        school = await session.scalar(
            select(School).join(Person, Person.school_id == School.id).where(Person.id == other.id)
        )
    first_category = (await request_row(c, first)).category
    assert first_category and first_category != (await request_row(c, third)).category
    assert school is not None and first_category

    async with await c.signed_in(c.staff) as http:
        inbox = await http.get("/console/requests")
        assert inbox.status_code == 200
        text = inbox.text
        assert TITLE.findall(text) == ["(2) Open requests · Hotline console"]
        assert f'<a href="/console/requests/{first}">{first}</a>' in text
        assert f'<a href="/console/requests/{second}">{second}</a>' in text
        assert text.index(second) < text.index(first)  # newest first
        assert third not in text  # resolved
        assert c.staff.name in text and "nobody yet" in text  # who was pinged; support: nobody
        assert '<form method="get" action="/console/requests" class="filters"' in text
        assert "2 days" in text  # the first one's age
        for label in ("Status", "Kind", "Category", "School", "Opened from", "Opened to"):
            assert f">{label}</label>" in text

        async def shown(**params: str) -> list[str]:
            page = await http.get("/console/requests", params=params)
            assert page.status_code == 200, page.text
            return [r for r in (first, second, third) if f'/console/requests/{r}"' in page.text]

        assert await shown(kind="emergency") == [first]
        assert await shown(kind="support") == [second]
        assert await shown(status="resolved") == [third]
        assert await shown(status="open") == [first, second]
        assert await shown(status="all") == [first, second, third]
        assert await shown(status="all", category=first_category) == [first]
        assert await shown(status="all", school=school.code) == [second, third]
        day = START.date()
        assert await shown(status="all", to=str(day)) == [first, second]
        assert await shown(status="all", **{"from": str(day + timedelta(days=1))}) == [third]
        assert await shown(**{"from": str(day), "to": str(day)}) == [first, second]
        none = await http.get("/console/requests", params={"kind": "support", "status": "resolved"})
        assert "No requests match these filters" in none.text
        assert TITLE.findall(none.text) == ["(0) Resolved requests · Hotline console"]

        bad = {
            "status": ("bogus", "Choose a status from the list."),
            "kind": ("urgent", "Choose emergency or support."),
            "category": ("<b>made-up</b>", "Choose a category from the list."),
            "school": ("no-such-school", "Choose a school from the list."),
            "from": ("25/11/2026", "Give a date like 2026-11-25."),
        }
        for name, (value, message) in bad.items():
            page = await http.get("/console/requests", params={name: value})
            assert page.status_code == 400, name
            assert beside(page.text, name) == message
            assert f'aria-describedby="err-{name}"' in page.text
            assert first not in page.text and "hx-get" not in page.text
            assert "<b>made-up</b>" not in page.text  # escaped
        backwards = await http.get(
            "/console/requests", params={"from": "2026-11-26", "to": "2026-11-25"}
        )
        assert backwards.status_code == 400
        assert beside(backwards.text, "to") == "The end date comes before the start date."

    # The same query as `hotline requests list`, with the filters as parameters.
    async with c.db.session() as session:
        plain = await recent_requests(session, open_only=True)
        emergencies = await recent_requests(session, filters=Filters(kind=RequestKind.EMERGENCY))
    assert [r.request.reference for r in plain] == [second, first]
    assert [r.request.reference for r in emergencies] == [third, first]
    assert plain[1].pinged == (c.staff.name,)


async def test_the_live_fragment_shows_an_emergency_raised_after_the_page_was_loaded(
    c: Console,
) -> None:
    async with await c.signed_in(c.staff) as http:
        inbox = await http.get("/console/requests", params={"kind": "emergency"})
        assert "No open requests" in inbox.text
        assert TITLE.findall(inbox.text) == ["(0) Open requests · Hotline console"]
        wrapper = re.search(r'<div id="live" ([^>]*)>', inbox.text)
        assert wrapper is not None
        assert 'hx-get="/console/requests/live?kind=emergency"' in wrapper.group(1)
        assert 'hx-trigger="every 5s"' in wrapper.group(1) and "hx-swap=" in wrapper.group(1)

        reference = await emergency(c, c.member, "a pupil is missing from the school trip")
        headers = {"hx-request": "true"}
        live = await http.get(
            "/console/requests/live", params={"kind": "emergency"}, headers=headers
        )
        assert live.status_code == 200
        assert live.text.startswith("<title>(1) Open requests · Hotline console</title>")
        assert f'href="/console/requests/{reference}"' in live.text
        assert "<html" not in live.text and "<nav" not in live.text  # the table alone
        assert live.headers["content-security-policy"]  # a console response like any other
        support_only = await http.get("/console/requests/live", params={"kind": "support"})
        assert support_only.text.startswith("<title>(0) Open requests")
        assert reference not in support_only.text
        bad = await http.get("/console/requests/live", params={"from": "yesterday"})
        assert bad.status_code == 400  # htmx leaves the table as it was

    async with c.client() as stranger:  # no session: the sign-in page, a whole page for htmx
        plain = await stranger.get("/console/requests/live")
        assert plain.status_code == 303 and plain.headers["location"] == "/console/signin"
        polled = await stranger.get("/console/requests/live", headers=headers)
        assert polled.status_code == 204 and polled.headers["hx-redirect"] == "/console/signin"
        assert reference not in polled.text


async def test_the_request_page_shows_the_messages_and_the_whole_timeline(c: Console) -> None:
    reference = await emergency(c, c.member, "the boiler has exploded in the hall")
    follow_up = IncomingMessage(
        "console",
        c.member.email,
        c.member.email,
        text="thank you, I will wait by the phone",
        reply_to="1",
        reply_to_text=f"Your request {reference}",
    )
    await c.bot.dispatcher.handle(follow_up)
    assert await c.chat(c.staff, f"/note {reference} rang the site manager") == (
        texts.NOTE_ADDED.format(reference=reference)
    )
    assert "member_message" in await events(c, reference)

    async with await c.signed_in(c.staff, ip="192.0.2.9") as http:
        page = await http.get(f"/console/requests/{reference}")
        assert page.status_code == 200
        text = page.text
        assert f"<h1>Request {reference}</h1>" in text
        assert "the boiler has exploded in the hall" in text
        assert "thank you, I will wait by the phone" in text
        assert c.member.name in text and "emergency" in text and "open" in text
        for what in ("Opened", "Pinged", "Message from the member", "Note"):
            assert f'<th scope="row">{what}</th>' in text, what
        assert "rang the site manager" in text and c.staff.name in text
        for label in ("Acknowledge", "Resolve", "Add note", "Send reply"):
            assert f">{label}</button>" in text, label
        for field, label in (
            ("resolution", "Resolution note"),
            ("note", "Note"),
            ("reply", "Reply"),
        ):
            assert f'<label for="f-{field}">{label}</label>' in text
        lower = await http.get(f"/console/requests/{reference.lower()}")
        assert lower.status_code == 200
        for unknown in ("HL-2026-9999", "id-9999", "not-a-reference", "id-x"):
            missing = await http.get(f"/console/requests/{unknown}")
            assert missing.status_code == 404, unknown
            assert "was not found" in missing.text

    views = await audit(c, "view")
    assert len(views) == 2  # the two pages shown; nothing for the unknown ones
    assert {(v.subject, v.subject_person_id, v.actor_id, v.ip, v.via) for v in views} == {
        (reference, c.member.id, c.staff.id, "192.0.2.9", "console")
    }
    assert "boiler" not in views[0].detail


async def test_a_request_without_a_reference_has_an_id_address(c: Console) -> None:
    reference = await support(c, c.member, "can someone explain the new absence codes")
    async with c.db.session() as session:
        request = await session.scalar(
            select(HotlineRequest).where(HotlineRequest.reference == reference)
        )
        assert request is not None
        request.reference = None
        request_id = request.id
    async with await c.signed_in(c.admin) as http:
        inbox = await http.get("/console/requests")
        assert f'<a href="/console/requests/id-{request_id}">#{request_id}</a>' in inbox.text
        page = await http.get(f"/console/requests/id-{request_id}")
        assert page.status_code == 200 and "the new absence codes" in page.text
        note = await http.post(
            f"/console/requests/id-{request_id}/note",
            data=form_of_page(page.text, c.csrf(page.text), note="looked it up"),
        )
        assert note.status_code == 303
        assert note.headers["location"].startswith(f"/console/requests/id-{request_id}?done=note")
    assert [e.subject for e in await audit(c, "note")] == [f"#{request_id}"]


async def test_acknowledge_in_the_console_edits_the_pings_and_tells_the_member(
    c: Console,
) -> None:
    """As the chat's Acknowledge button (tests/escalation/test_hotline.py): the ping already
    delivered is edited in place with the status line and no buttons; the member is told."""
    sender = RecordingSender()
    reference = await emergency(c, c.member, "ransomware note on every screen")
    assert await deliver(c, sender) == 1  # the primary's ping (the member was answered in chat)
    (ping,) = sender.to(c.staff.email)
    request = await request_row(c, reference)
    assert [b.action for b in ping.buttons] == [f"ack:{request.id}", f"res:{request.id}"]

    async with await c.signed_in(c.admin, ip="198.51.100.4") as http:
        page = await http.get(f"/console/requests/{reference}")
        csrf = c.csrf(page.text)
        c.clock.advance(minutes=3)
        acked = await http.post(
            f"/console/requests/{reference}/acknowledge", data=form_of_page(page.text, csrf)
        )
        assert acked.status_code == 303
        assert acked.headers["location"] == (
            f"/console/requests/{reference}?done=acknowledge&told=1&edited=1"
        )
        after = await http.get(acked.headers["location"])
        assert (
            "Acknowledged. The bot is telling the member who has it. 1 chat ping will show who has it."
            in after.text
        )
        assert ">Acknowledge</button>" not in after.text  # taken: no button any more
        assert f"with {c.admin.name}" in after.text

        acked_row = await request_row(c, reference)
        assert (acked_row.status, acked_row.acknowledged_by_id, acked_row.acknowledged_at) == (
            RequestStatus.ACKNOWLEDGED,
            c.admin.id,
            START + timedelta(minutes=3),
        )
        assert acked_row.next_escalation_at is None  # the escalation stopped
        rows = await outbox(c)
        (edit,) = [r for r in rows if r.edit_ref is not None]
        assert edit.chat_id == c.staff.email and edit.dedupe_key.endswith(":acknowledged")
        (told,) = [r for r in rows if r.dedupe_key == f"member-ack:{request.id}"]
        assert told.chat_id == c.member.email and told.person_id == c.member.id
        assert told.text == texts.MEMBER_ACKNOWLEDGED.format(name=c.admin.name, reference=reference)

        await deliver(c, sender)
        assert f"{c.admin.name} from the Partnership has your request" in (
            sender.to(c.member.email)[-1].text
        )
        edits = [(chat, reply) for chat, _ref, reply in sender.edits]
        assert [chat for chat, _ in edits] == [c.staff.email]
        edited = edits[0][1]
        assert (
            edited.text.startswith(ping.text) and f"Acknowledged by {c.admin.name}" in edited.text
        )
        assert edited.buttons == ()
        assert await events(c, reference) == ["opened", "level_pinged", "acknowledged"]

        # The same form again (someone else acted first, here the same admin): nothing changes.
        before = await state(c)
        again = await http.post(
            f"/console/requests/{reference}/acknowledge", data=form_of_page(page.text, csrf)
        )
        assert again.status_code == 409
        assert beside(again.text, "acknowledge") == texts.ALREADY_ACKNOWLEDGED.format(
            reference=reference, name=c.admin.name
        )
        assert await state(c) == before

    (entry,) = await audit(c, "acknowledge")
    assert (entry.subject, entry.subject_person_id, entry.actor_id, entry.ip) == (
        reference,
        c.member.id,
        c.admin.id,
        "198.51.100.4",
    )
    assert entry.detail == "member told; 1 ping(s) edited"
    # In chat, the staff member's Acknowledge button now says who has it.
    late = await c.bot.dispatcher.handle(
        IncomingMessage("console", c.staff.email, c.staff.email, action=f"ack:{request.id}")
    )
    assert late[-1].text == texts.ALREADY_ACKNOWLEDGED.format(
        reference=reference, name=c.admin.name
    )


async def test_acknowledging_a_request_you_were_pinged_about_edits_your_own_ping_too(
    c: Console,
) -> None:
    sender = RecordingSender()
    reference = await emergency(c, c.member, "flood in the science block")
    await deliver(c, sender)
    async with await c.signed_in(c.staff) as http:
        page = await http.get(f"/console/requests/{reference}")
        acked = await http.post(
            f"/console/requests/{reference}/acknowledge",
            data=form_of_page(page.text, c.csrf(page.text)),
        )
        assert acked.status_code == 303 and "edited=1" in acked.headers["location"]
    await deliver(c, sender)
    (edit,) = sender.edits  # no button was pressed in chat, so the console edits it
    assert edit[0] == c.staff.email and f"Acknowledged by {c.staff.name}" in edit[2].text
    assert sender.to(c.member.email)[-1].text == texts.MEMBER_ACKNOWLEDGED.format(
        name=c.staff.name, reference=reference
    )


async def test_resolve_needs_a_note_and_a_form_older_than_the_request_is_refused(
    c: Console,
) -> None:
    reference = await emergency(c, c.member, "a tree fell on the playground fence")
    async with await c.signed_in(c.admin) as http:
        page = await http.get(f"/console/requests/{reference}")
        csrf = c.csrf(page.text)
        path = f"/console/requests/{reference}"
        before = await state(c)

        empty = await http.post(
            f"{path}/resolve", data=form_of_page(page.text, csrf, resolution=" ")
        )
        assert empty.status_code == 400
        assert beside(empty.text, "resolution") == "Resolution note is needed."
        field = re.search(r'<textarea id="f-resolution"[^>]*>', empty.text)
        assert field is not None and 'aria-invalid="true"' in field.group()
        assert "err-resolution" in field.group()  # the message is linked to the field
        long = await http.post(
            f"{path}/resolve", data=form_of_page(page.text, csrf, resolution="x" * 2001)
        )
        assert long.status_code == 400 and "too long" in beside(long.text, "resolution")
        blank_note = await http.post(f"{path}/note", data=form_of_page(page.text, csrf))
        assert blank_note.status_code == 400 and beside(blank_note.text, "note") == (
            "Note is needed."
        )
        no_version = await http.post(f"{path}/resolve", data={"csrf": csrf, "resolution": "ok"})
        assert no_version.status_code == 400
        assert "Reload the page" in beside(no_version.text, "resolution")
        assert await state(c) == before

        # Someone acknowledges in chat after the page was loaded: its forms are out of date.
        assert await c.chat(c.staff, f"/ack {reference}") == texts.YOU_ACKNOWLEDGED.format(
            reference=reference
        )
        moved = await state(c)
        stale = await http.post(
            f"{path}/resolve", data=form_of_page(page.text, csrf, resolution="fence made safe")
        )
        assert stale.status_code == 409
        assert "Someone else changed this request" in beside(stale.text, "resolution")
        assert ">fence made safe</textarea>" in stale.text  # what was typed is kept
        stale_note = await http.post(
            f"{path}/note", data=form_of_page(page.text, csrf, note="called the council")
        )
        assert stale_note.status_code == 409
        stale_ack = await http.post(f"{path}/acknowledge", data=form_of_page(page.text, csrf))
        assert stale_ack.status_code == 409
        assert f"already acknowledged by {c.staff.name}" in beside(stale_ack.text, "acknowledge")
        assert await state(c) == moved
        assert await audit(c, "resolve") == []

        fresh = await http.post(
            f"{path}/resolve", data=form_of_page(stale.text, csrf, resolution="fence made safe")
        )
        assert fresh.status_code == 303 and "done=resolve&told=1" in fresh.headers["location"]
        assert (
            "Resolved. The bot is telling the member."
            in (await http.get(fresh.headers["location"])).text
        )
        resolved = await request_row(c, reference)
        assert (resolved.status, resolved.resolution_note) == (
            RequestStatus.RESOLVED,
            "fence made safe",
        )
        assert resolved.acknowledged_by_id == c.staff.id  # the owner stays who took it
        told = [r for r in await outbox(c) if r.dedupe_key == f"member-resolved:{resolved.id}"]
        assert [r.text for r in told] == [
            texts.MEMBER_RESOLVED.format(reference=reference, name=c.admin.name)
        ]
        (entry,) = await audit(c, "resolve")
        assert (entry.subject, entry.subject_person_id) == (reference, c.member.id)
        assert "fence" not in entry.detail

        done = await http.get(path)
        assert ">Resolve</button>" not in done.text and ">Send reply</button>" not in done.text
        assert ">Add note</button>" in done.text
        late = await http.post(
            f"{path}/reply", data=form_of_page(page.text, csrf, reply="all sorted?")
        )
        assert late.status_code == 409
        assert beside(late.text, "reply") == texts.ALREADY_RESOLVED.format(reference=reference)


async def test_a_reply_reaches_the_member_and_a_note_stays_in_the_timeline(c: Console) -> None:
    sender = RecordingSender()
    reference = await support(c, c.member, "how do we claim the sports premium")
    async with await c.signed_in(c.staff) as http:
        path = f"/console/requests/{reference}"
        page = await http.get(path)
        csrf = c.csrf(page.text)
        empty = await http.post(f"{path}/reply", data=form_of_page(page.text, csrf, reply=""))
        assert empty.status_code == 400 and beside(empty.text, "reply") == "Reply is needed."

        replied = await http.post(
            f"{path}/reply",
            data=form_of_page(page.text, csrf, reply="Use the form on the DfE site by Friday."),
        )
        assert replied.status_code == 303 and "done=reply&told=1" in replied.headers["location"]
        shown = await http.get(replied.headers["location"])
        assert "Your reply is on its way to the member through the bot." in shown.text
        assert "Use the form on the DfE site by Friday." in shown.text  # in the timeline
        await deliver(c, sender)
        assert sender.to(c.member.email)[-1].text == texts.STAFF_REPLY.format(
            name=c.staff.name, reference=reference, text="Use the form on the DfE site by Friday."
        )
        request = await request_row(c, reference)  # a reply takes the request, as in chat
        assert (request.status, request.acknowledged_by_id) == (
            RequestStatus.ACKNOWLEDGED,
            c.staff.id,
        )

        page = await http.get(path)
        to_member = len(sender.to(c.member.email))
        noted = await http.post(
            f"{path}/note", data=form_of_page(page.text, csrf, note="sent the guidance link too")
        )
        assert noted.status_code == 303
        assert "Note added to the timeline." in (await http.get(noted.headers["location"])).text
        await deliver(c, sender)
        assert len(sender.to(c.member.email)) == to_member  # a note is not sent to the member
    assert (await events(c, reference))[-2:] == ["reply", "note"]
    for action in ("reply", "note"):
        (entry,) = await audit(c, action)
        assert (entry.subject, entry.subject_person_id, entry.actor_id) == (
            reference,
            c.member.id,
            c.staff.id,
        )
        assert "DfE" not in entry.detail and "guidance" not in entry.detail


async def test_without_a_session_or_its_csrf_token_nothing_is_shown_or_changed(
    c: Console,
) -> None:
    reference = await emergency(c, c.member, "the roof is leaking onto the stage")
    path = f"/console/requests/{reference}"
    actions = ("acknowledge", "resolve", "note", "reply")
    fields = {"resolution": "done", "note": "a note", "reply": "a reply"}
    before = await state(c)

    async with c.client() as stranger:
        for url in (path, "/console/requests", "/console/requests/live"):
            shown = await stranger.get(url)
            assert shown.status_code == 303 and shown.headers["location"] == "/console/signin"
        for action in actions:
            posted = await stranger.post(f"{path}/{action}", data={"version": "1", **fields})
            assert posted.status_code == 403, action

    async with await c.signed_in(c.staff) as http:
        page = await http.get(path)
        session_id = http.cookies[COOKIE].split(".")[0]
        csrf = c.csrf(page.text)
        after_view = await state(c)  # the view's audit entry
        for action in actions:
            data = form_of_page(page.text, csrf, **fields)
            no_token = await http.post(f"{path}/{action}", data={**data, "csrf": ""})
            wrong = await http.post(f"{path}/{action}", data={**data, "csrf": "x" * 43})
            foreign = await http.post(
                f"{path}/{action}", data=data, headers={"origin": "https://evil.test"}
            )
            assert (no_token.status_code, wrong.status_code, foreign.status_code) == (
                403,
                403,
                403,
            ), action
        assert await state(c) == after_view

    forged = [
        f"{session_id}.{'A' * 43}",
        sign_session(b"another-deployment-secret-0123456789", session_id),
        sign_session(SECRET, "a-session-nobody-started-0123456789"),
    ]
    for cookie in forged:
        async with c.client() as browser:
            browser.cookies.set(COOKIE, cookie, domain="hotline.test", path="/console")
            assert (await browser.get(path)).status_code == 303
            for action in actions:
                posted = await browser.post(
                    f"{path}/{action}", data={"csrf": csrf, "version": "1", **fields}
                )
                assert posted.status_code == 403
    async with c.db.session() as session:
        request = await session.scalar(
            select(HotlineRequest).where(HotlineRequest.reference == reference)
        )
    assert request is not None and request.status is RequestStatus.OPEN
    assert (await state(c))[1:3] == after_view[1:3] == before[1:3]  # no event, no message

    # A member gets no link, so no session: the console is for staff.
    assert await c.chat(c.member, "/console") == texts.STAFF_ONLY.format(command="/console")
    async with c.db.session() as session:
        links = await session.scalars(select(ConsoleLink.person_id))
        assert c.member.id not in list(links)


async def test_a_session_that_ends_while_polling_sends_htmx_to_sign_in(c: Console) -> None:
    async with await c.signed_in(c.staff) as http:
        headers = {"hx-request": "true"}
        assert (await http.get("/console/requests/live", headers=headers)).status_code == 200
        c.clock.advance(hours=12)
        ended = await http.get("/console/requests/live", headers=headers)
        assert ended.status_code == 204 and ended.headers["hx-redirect"] == "/console/signin"


async def test_hotline_requests_list_takes_the_inboxs_filters(c: Console, db_url: str) -> None:
    other = await make_person(c.db, name="Ola Other")
    first = await emergency(c, c.member, "the boiler has exploded in the hall")
    second = await support(c, other, "please ring me about our SEND funding bid")
    c.clock.advance(days=2)
    third = await emergency(c, other, "a journalist is asking about the incident")
    await c.chat(c.staff, f"/resolve {third} police came, all safe")
    async with c.db.session() as session:
        school = await session.scalar(
            select(School).join(Person, Person.school_id == School.id).where(Person.id == other.id)
        )
    assert school is not None
    env = {"DATABASE_URL": db_url}

    def listed(*flags: str) -> list[str]:
        printed = run_hotline("requests", "list", *flags, env=env)
        assert printed.returncode == 0, printed.stderr
        return REFERENCE.findall(printed.stdout)

    assert listed() == [third, second, first]
    assert listed("--kind", "emergency") == [third, first]
    assert listed("--status", "resolved") == [third]
    assert listed("--school", school.code) == [third, second]
    opened = START.date().isoformat()
    assert listed("--from", opened, "--to", opened) == [second, first]
    async with c.db.reading() as session:  # the same query as the console's inbox
        rows = await recent_requests(session, filters=Filters(kind=RequestKind.EMERGENCY))
    assert [r.request.reference for r in rows] == [third, first]
    for flags, said in (
        (("--school", "nowhere"), "no school with the code 'nowhere'"),
        (("--from", "someday"), "'someday' is not a date like 2026-11-23"),
        (("--from", "2026-11-26", "--to", "2026-11-25"), "--to is before --from"),
    ):
        refused = run_hotline("requests", "list", *flags, env=env)
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
