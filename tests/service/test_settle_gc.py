"""A started server keeps what start-up built out of collections and collects less often."""

from __future__ import annotations

import gc

from greenwatch.service._serve import GC_THRESHOLDS, settle_gc


def test_a_started_server_settles_the_collector() -> None:
    before = gc.get_threshold()
    try:
        settle_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # start-up's objects: no full pass walks them again
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
