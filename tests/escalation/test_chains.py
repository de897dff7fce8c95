"""Escalation chains from the rota file: routing by category, per-step timeouts, the chain copied
onto a request, the last step's repeat count, steps that run out of hours; on both databases.
And the file's checks, each problem on its line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core import texts
from bot.core.errors import DataError
from bot.escalation.chains import DEFAULT_CHAIN
from bot.escalation.rota import named_people, unreachable_chains
from bot.escalation.rota_file import parse_rota, parse_rota_text
from bot.store.models import HotlineRequest, Person, Role
from bot.store.timeline import events_of
from tests.conftest import DATA, run_hotline
from tests.escalation.conftest import TIMEOUT, Partnership
from tests.factories import make_person, make_rota, rota_yaml

SAFEGUARDING = "/emergency a child has disclosed abuse and is frightened to go home"
OFSTED = "/emergency ofsted rang, inspection starts tomorrow"


def chains_yaml(adviser: str, *, repeat: str = "", out_of_hours: str = "") -> str:
    return (
        f"groups:\n  safeguarding-adviser: [{adviser}]\n"
        "chains:\n"
        "  default:\n    - {role: primary}\n    - {role: backup}\n    - {role: fallback}\n"
        "  safeguarding:\n"
        f"    - {{group: safeguarding-adviser, minutes: 3{out_of_hours}}}\n"
        "    - {role: primary, minutes: 5}\n"
        f"    - {{role: fallback, minutes: 7{repeat}}}\n"
        "routes:\n  safeguarding: safeguarding\n  allegation: safeguarding\n"
    )


async def with_chains(p: Partnership, **options: str) -> Person:
    adviser = await make_person(p.db, role=Role.STAFF, name="Sade Adviser")
    base = rota_yaml(
        p.primary.email, p.backup.email, p.fallback.email, wake="[safeguarding, premises]"
    )
    await make_rota(p.db, base + chains_yaml(adviser.email, **options))
    return adviser


async def request_of(p: Partnership) -> HotlineRequest:
    async with p.db.session() as s:
        return (await s.scalars(select(HotlineRequest))).one()


async def pinged(p: Partnership) -> list[str]:
    await p.deliver()
    request = await request_of(p)
    async with p.db.session() as s:
        return [e.detail for e in await events_of(s, request.id) if e.kind == "level_pinged"]


async def test_a_safeguarding_emergency_follows_its_chain_with_its_own_timeouts(
    p: Partnership,
) -> None:
    adviser = await with_chains(p)
    reply = await p.say(p.member, SAFEGUARDING)
    assert "the safeguarding adviser" in reply.text  # the member is told who is alerted
    await p.deliver()
    assert p.channel.to(adviser.email) and p.inbox(p.primary) == []
    assert "(safeguarding adviser)" in p.channel.to(adviser.email)[0].text
    p.clock.advance(minutes=2, seconds=59)
    assert await p.sweep() == 0  # the first step waits 3 minutes, not ESCALATION_TIMEOUT_S
    p.clock.advance(seconds=1)
    assert await p.sweep() == 1
    await p.deliver()
    assert p.inbox(p.primary)  # step 2: the primary
    p.clock.advance(minutes=4)
    assert await p.sweep() == 0  # step 2 waits 5 minutes
    p.clock.advance(minutes=1)
    assert await p.sweep() == 1
    assert await pinged(p) == [
        f"level 1 (safeguarding adviser): {adviser.email}",
        f"level 2 (primary duty officer): {p.primary.email}",
        f"level 3 (fallback): {p.fallback.email}",
    ]
    assert p.inbox(p.backup) == []  # the safeguarding chain has no backup step


async def test_an_ofsted_call_follows_the_default_chain(p: Partnership) -> None:
    adviser = await with_chains(p)
    reply = await p.say(p.member, OFSTED)
    assert "the duty officer" in reply.text
    request = await request_of(p)
    assert request.category == "ofsted-notification"
    p.clock.advance(seconds=TIMEOUT.total_seconds() - 1)
    assert await p.sweep() == 0  # a step without minutes waits ESCALATION_TIMEOUT_S
    p.clock.advance(seconds=1)
    assert await p.sweep() == 1
    assert await pinged(p) == [
        f"level 1 (primary duty officer): {p.primary.email}",
        f"level 2 (backup duty officer): {p.backup.email}",
    ]
    assert p.channel.to(adviser.email) == []


async def test_a_running_escalation_keeps_the_chain_it_started_with(p: Partnership) -> None:
    adviser = await with_chains(p)
    await p.say(p.member, SAFEGUARDING)
    # The office replaces the rota: no chains any more, so new emergencies go to the primary.
    await make_rota(p.db, rota_yaml(p.primary.email, p.backup.email, p.fallback.email))
    p.clock.advance(minutes=3)
    await p.sweep()
    p.clock.advance(minutes=5)
    await p.sweep()
    assert await pinged(p) == [
        f"level 1 (safeguarding adviser): {adviser.email}",
        f"level 2 (primary duty officer): {p.primary.email}",
        f"level 3 (fallback): {p.fallback.email}",
    ]


async def test_the_last_step_repeats_as_often_as_the_chain_says_then_the_staff_are_told(
    p: Partnership,
) -> None:
    await with_chains(p, repeat=", repeat: 1")
    await p.say(p.member, SAFEGUARDING)
    for minutes in (3, 5, 7, 7, 7, 7):
        p.clock.advance(minutes=minutes)
        await p.sweep()
    levels = [detail.split(" (")[0] for detail in await pinged(p)]
    assert levels == ["level 1", "level 2", "level 3", "level 3"]  # the fallback once more
    request = await request_of(p)
    assert request.next_escalation_at is None and request.repeats == 1
    assert any(
        texts.CHAIN_EXHAUSTED.format(reference=request.reference) in r.text
        for r in p.channel.to("#staff")
    )
    assert len(p.inbox(p.fallback)) == 2


async def test_out_of_hours_only_the_steps_marked_to_run_then_are_tried(p: Partnership) -> None:
    adviser = await with_chains(p)
    await p.office_hours_rota()  # hotline hours Mon-Fri 08:00-18:00, no chains
    base = rota_yaml(
        p.primary.email,
        p.backup.email,
        p.fallback.email,
        hours="{days: Mon-Fri, from: '08:00', to: '18:00'}",
        pattern_days="Mon-Fri",
        pattern_from="08:00",
        pattern_to="18:00",
        wake="[safeguarding]",
    )
    await make_rota(p.db, base + chains_yaml(adviser.email, out_of_hours=", out_of_hours: true"))
    p.clock.now = datetime(2026, 11, 21, 22, 0, tzinfo=p.clock.now.tzinfo)  # a Saturday night
    await p.say(p.member, SAFEGUARDING)
    assert await pinged(p) == [f"level 1 (safeguarding adviser): {adviser.email}"]
    p.clock.advance(minutes=3)
    await p.sweep()  # the primary's step does not run out of hours: on to the fallback
    assert await pinged(p) == [
        f"level 1 (safeguarding adviser): {adviser.email}",
        f"level 3 (fallback): {p.fallback.email}",
    ]


def test_the_example_rota_routes_safeguarding_and_ofsted() -> None:
    rota = parse_rota(DATA / "example" / "rota.yaml")
    assert rota.chain_for("safeguarding").name == "safeguarding"
    assert rota.chain_for("allegation").name == "safeguarding"
    assert rota.chain_for("ofsted-notification").name == "inspection"
    assert rota.chain_for("media").name == "default"
    assert rota.groups["safeguarding-adviser"] == ("lucy.brennan@partnership.example.org",)


def test_a_rota_without_chains_has_the_default_chain() -> None:
    rota = parse_rota_text(rota_yaml("a@x.org", "b@x.org", "c@x.org"), "rota.yaml")
    assert rota.chain_for("safeguarding") == DEFAULT_CHAIN


@pytest.mark.parametrize(
    ("chains", "problem"),
    [
        (
            "chains:\n  default:\n    - {role: boss}\n",
            "rota.yaml:14: chains.default.role: 'boss' is not one of",
        ),
        ("chains:\n  default:\n    - {group: nobody}\n", "no group 'nobody' in groups"),
        (
            "chains:\n  default:\n    - {role: primary, person: a@x.org}\n",
            "give exactly one of role, person or group",
        ),
        (
            "chains:\n  default:\n    - {role: primary, repeat: 2}\n    - {role: fallback}\n",
            "rota.yaml:14: chains.default.repeat: only the last step repeats",
        ),
        (
            "chains:\n  default:\n    - {role: fallback, minutes: 0}\n",
            "'0' is not a whole number from 1 to 1440",
        ),
        (
            "chains:\n  default:\n    - {role: fallback, out_of_hours: maybe}\n",
            "'maybe' is not true or false",
        ),
        (
            "chains:\n  default:\n    - {role: fallback}\nroutes:\n  safeguarding: other\n",
            "rota.yaml:16: routes.safeguarding: no chain 'other' in chains",
        ),
        (
            "chains:\n  default:\n    - {role: fallback}\nroutes:\n  weather: default\n",
            "'weather' is not one of",
        ),
        (
            "chains:\n  sg:\n    - {role: fallback}\nroutes:\n  safeguarding: sg\n",
            "no chain for ofsted-notification, allegation",
        ),
        (
            "chains:\n  default:\n    - {role: primary}\n",
            "safeguarding wakes someone out of hours, but no step of this chain runs out of hours",
        ),
        ("routes:\n  safeguarding: default\n", "routes name chains, but the file has no chains"),
        ("groups:\n  Advisers: [a@x.org]\n", "a group name is lowercase letters"),
    ],
)
def test_chain_problems_are_named_with_their_line(chains: str, problem: str) -> None:
    text = rota_yaml("a@x.org", "b@x.org", "c@x.org", wake="[safeguarding]") + chains
    with pytest.raises(DataError) as raised:
        parse_rota_text(text, "rota.yaml")
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_rota_show_says_who_a_category_would_ping_in_order(tmp_path: Path) -> None:
    """As the office runs it: fresh `hotline` processes on a database file."""
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}
    for args in (
        ("db", "upgrade"),
        ("directory", "import", str(DATA / "example" / "directory.yaml")),
        ("rota", "import", str(DATA / "example" / "rota.yaml")),
    ):
        assert run_hotline(*args, env=env).returncode == 0, args
    monday = "2026-11-23T10:00"
    shown = run_hotline("rota", "show", "--category", "safeguarding", "--at", monday, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1:] == [
        "safeguarding: chain safeguarding",
        "  1. safeguarding adviser: lucy.brennan@partnership.example.org, waits 5 min",
        "  2. primary duty officer: sam.adeyemi@partnership.example.org, waits 5 min",
        "  3. fallback: ruth.green@partnership.example.org, waits 10 min",
        "  the last step repeats until acknowledged",
        "overrides: none current or upcoming",
    ]
    saturday = "2026-11-28T22:00"
    held = run_hotline("rota", "show", "--category", "media", "--at", saturday, env=env)
    assert "held until the hotline opens" in held.stdout
    assert "1. primary duty officer: nobody, waits 10 min  (not out of hours: skipped)" in (
        held.stdout
    )
    wrong = run_hotline("rota", "show", "--category", "weather", env=env)
    assert wrong.returncode != 0 and "unknown category 'weather'" in wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_the_people_a_chain_names_are_checked_like_the_rota_s_own() -> None:
    text = rota_yaml("a@x.org", "b@x.org", "c@x.org", wake="[safeguarding]") + (
        "groups:\n  advisers: [g1@x.org, g2@x.org]\n"
        "chains:\n"
        "  default:\n    - {role: primary}\n    - {role: fallback}\n"
        "  sg:\n    - {group: advisers}\n    - {person: p@x.org, out_of_hours: true}\n"
        "routes:\n  safeguarding: sg\n"
    )
    rota = parse_rota_text(text, "rota.yaml")
    assert named_people(rota) == {
        "a@x.org",
        "b@x.org",
        "c@x.org",
        "g1@x.org",
        "g2@x.org",
        "p@x.org",
    }
    # The safeguarding chain's group and person have no chat account; the default's do.
    reachable = {"a@x.org", "c@x.org"}
    assert unreachable_chains(rota, reachable.__contains__) == [
        "chain sg: no step can reach anyone by chat"
    ]
    assert unreachable_chains(rota, {"g2@x.org", "a@x.org"}.__contains__) == []


def test_rota_import_refuses_chain_people_not_in_the_directory(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}
    for args in (
        ("db", "upgrade"),
        ("directory", "import", str(DATA / "example" / "directory.yaml")),
    ):
        assert run_hotline(*args, env=env).returncode == 0, args
    example = (DATA / "example" / "rota.yaml").read_text("utf-8")
    rota = tmp_path / "rota.yaml"
    rota.write_text(example.replace("[lucy.brennan@", "[nobody.here@"), "utf-8")
    refused = run_hotline("rota", "import", str(rota), env=env)
    assert refused.returncode == 1
    assert (
        "rota.yaml: nobody.here@partnership.example.org: not in the directory"
        in refused.stdout + refused.stderr
    )
    assert "Traceback" not in refused.stderr
