from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from oneatlas_plan import _bulk
from oneatlas_plan._bulk import bulk, freeze_kept


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    freeze_kept(False)
    gc.unfreeze()


def test_bulk_pauses_the_collector_and_restores_it() -> None:
    assert gc.isenabled()
    with bulk():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_kept_objects_are_frozen_only_when_the_process_asked(unfrozen: None) -> None:
    assert not _bulk._freeze_kept  # a library caller (these tests) never freezes
    with bulk(kept=True):
        kept = [{"record": i} for i in range(1000)]
    assert gc.get_freeze_count() == 0

    freeze_kept()
    with bulk():  # not kept: nothing frozen
        pass
    assert gc.get_freeze_count() == 0
    with bulk(kept=True):
        kept = [{"record": i} for i in range(1000)]
    assert gc.get_freeze_count() >= len(kept)
    assert gc.isenabled()
