"""A started server keeps what start-up built out of collections and collects less often,
and its Arrow buffers come from the C library's heap, which gives freed memory back."""

from __future__ import annotations

import gc

import pyarrow
import pytest

from greenwatch.service._serve import GC_THRESHOLDS, return_freed_memory, settle_gc


def test_a_started_server_settles_the_collector() -> None:
    before = gc.get_threshold()
    try:
        settle_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # start-up's objects: no full pass walks them again
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_server_allocates_arrow_buffers_from_the_system_heap_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = pyarrow.default_memory_pool()
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
        pyarrow.set_memory_pool(pyarrow.mimalloc_memory_pool())
        return_freed_memory()
        assert pyarrow.default_memory_pool().backend_name == "mimalloc"  # the operator's choice
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        return_freed_memory()
        assert pyarrow.default_memory_pool().backend_name == "system"
    finally:
        pyarrow.set_memory_pool(before)
