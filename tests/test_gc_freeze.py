"""gc.freeze after start-up (bot/app.py, settle_heap) and the setting that turns it off."""

from __future__ import annotations

import gc

import pytest

from bot.app import settle_heap
from bot.config import load_settings
from tests.conftest import DATA


def test_settle_heap_freezes_the_start_up_heap_unless_told_not_to() -> None:
    before = gc.get_freeze_count()  # a process started in-process earlier may have frozen
    settle_heap(freeze=False)
    assert gc.get_freeze_count() == before
    try:
        settle_heap()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(("value", "freeze"), [(None, True), ("0", False), ("1", True)])
def test_gc_freeze_is_a_setting(
    monkeypatch: pytest.MonkeyPatch, value: str | None, freeze: bool
) -> None:
    if value is None:
        monkeypatch.delenv("GC_FREEZE", raising=False)
    else:
        monkeypatch.setenv("GC_FREEZE", value)
    assert load_settings(data_dir=DATA).gc_freeze is freeze
