"""The hotline hours the FAQ answers state agree with the rota's: checked, not hoped."""

from pathlib import Path

from bot.escalation.rota_file import parse_rota, parse_rota_text
from bot.escalation.stated_hours import disagreements, stated_hours
from bot.knowledge import KnowledgeBase
from tests.factories import rota_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_faq_states_the_example_rotas_hotline_hours(kb: KnowledgeBase) -> None:
    rota = parse_rota(ROOT / "data" / "example" / "rota.yaml")
    answers = [(e.id, e.answer) for e in kb.index.entries]
    assert disagreements(rota, answers) == []
    # ...and the check has something to compare: the answers do state the hours.
    assert {str(s) for e, a in answers for s in stated_hours(e, a)} == {"08:00-18:00"}


def test_different_hours_are_named_with_the_entry() -> None:
    rota = parse_rota_text(
        rota_yaml("a@x.org", None, "b@x.org", hours="{days: Mon-Fri, from: '08:00', to: '18:00'}"),
        "rota.yaml",
    )
    answers = [
        ("hotline-hours", "Call 020 7946 0000. It is staffed from 7.30am to 6pm on school days."),
        ("office", "The office is open from 8.30am to 5pm. Write to us any time."),
        ("agrees", "The emergency hotline is open 8am-6pm, Monday to Friday."),
    ]
    assert disagreements(rota, answers) == [
        "faq hotline-hours: says the hotline is staffed 07:30-18:00, the rota says Mon-Fri 08:00-18:00"
    ]


def test_times_read_as_a_person_writes_them() -> None:
    said = stated_hours("x", "The hotline runs 12noon to 11.45pm; staffed from 9:15am until 5pm.")
    assert [str(s) for s in said] == ["12:00-23:45", "09:15-17:00"]
