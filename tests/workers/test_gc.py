"""A worker process tunes CPython's garbage collector for many steps in flight."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from workers.main import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_out_of_the_collectors_sight_and_it_runs_less_often() -> None:
    gc.unfreeze()
    made_at_start_up = [{"kept": i} for i in range(1000)]

    tune_gc()

    collected = {id(obj) for obj in gc.get_objects()}  # the permanent generation is not
    assert not any(id(d) in collected for d in made_at_start_up)
    assert gc.get_freeze_count() >= len(made_at_start_up)
    assert gc.get_threshold() == GC_THRESHOLDS
