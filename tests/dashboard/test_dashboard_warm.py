"""The first page drawn in the background: a visit afterwards reads nothing again."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import flask
import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from plotly.utils import PlotlyJSONEncoder

from greenwatch.dashboard import _panels, create_app, load_dashboards
from greenwatch.dashboard._auth import Auth
from greenwatch.dashboard._blocks import DRAWN
from greenwatch.dashboard._cache import TtlCache, kept_for
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._layout import page_layout
from greenwatch.dashboard._panels import block_children, graph_figure
from greenwatch.dashboard._routing import view_of
from greenwatch.dashboard._spec import GRAPH_TYPES, AuthSettings
from greenwatch.dashboard._warm import install, warm
from greenwatch.inventory import load_inventory
from greenwatch.model import shipped_dir
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore, VictoriaMetricsStore

START = pd.Timestamp("2026-03-02T00:00:00Z")
END = START + pd.Timedelta(hours=8)
NOWHERE = "http://127.0.0.1:9"  # never asked: the app reads nothing until a visit


class CountingStore(DuckDBStore):
    """Counts aggregate reads."""

    reads = 0

    def query(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        self.reads += 1
        return super().query(*args, **kwargs)


def _env(store: DuckDBStore) -> Env:
    dashboards = load_dashboards(shipped_dir("dashboards"))
    return Env(store, load_inventory(), dashboards, lambda: END, auth=Auth(AuthSettings()))


def test_a_visit_after_the_warm_up_reads_nothing() -> None:
    store = CountingStore(":memory:")
    backfill(Simulator(load_inventory(), seed=3, start=START), store.write, END)
    env = _env(store)
    page, _ = env.dashboards.page_for("/")
    drawn = warm(env)
    assert drawn == len(page.panels) * len(env.dashboards.settings.periods)
    read = store.reads
    for panel in page.panels:
        ident = {"panel": f"{page.id}/{panel.id}"}
        if panel.type in GRAPH_TYPES:
            figure = graph_figure(env, "/", "?period=6h", "light", ident)
            assert figure["data"] or figure["layout"].get("annotations")
        else:
            assert block_children(env, "/", "?period=6h", ident)
    assert store.reads == read
    store.close()


def test_a_page_laid_out_after_the_warm_up_comes_drawn() -> None:
    """The browser then draws each chart once, with its figure, not an empty one first."""
    store = DuckDBStore(":memory:")
    backfill(Simulator(load_inventory(), seed=3, start=START), store.write, END)
    env = _env(store)
    search = "?period=6h"
    view = view_of(env, "/", search)

    def bodies() -> list[Any]:
        head, grid = page_layout(env, view, lambda p: _panels.drawn(env, p, view, "light", search))
        assert head.children
        return [section.children[-1] for section in grid.children]

    assert not any(body.id[DRAWN] for body in bodies())
    warm(env)
    for panel, body in zip(view.page.panels, bodies(), strict=True):
        assert body.id[DRAWN]
        ident = {"panel": f"{view.page.id}/{panel.id}"}
        if panel.type in GRAPH_TYPES:
            assert body.figure == graph_figure(env, "/", search, "light", ident)
        else:
            assert body.children == block_children(env, "/", search, ident)
    dark = page_layout(env, view, lambda p: _panels.drawn(env, p, view, "dark", search))[1]
    charts = [s.children[-1] for s in dark.children if s.children[-1].id["gw"] == "graph"]
    assert charts
    assert not any(chart.id[DRAWN] for chart in charts)  # drawn for light only
    store.close()


def test_a_warm_up_stops_between_panels_when_told() -> None:
    assert warm(_env(DuckDBStore(":memory:")), lambda: False) == 0


def test_the_warm_up_runs_at_once_on_the_scheduler() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    install(scheduler, _env(DuckDBStore(":memory:")))
    job = scheduler.get_job("dashboard-warm")
    assert job is not None
    run: Callable[[], None] = job.func
    run()  # not started: stops before the first panel
    assert job.next_run_time is not None


def test_every_store_is_drawn_ahead_one_without_a_write_count_at_fixed_minutes() -> None:
    """A store that counts its writes is drawn every few minutes from the start; one that does
    not (VictoriaMetrics) at fixed minutes, so soon after the hour a period ends on."""
    for store, trigger in (
        (DuckDBStore(":memory:"), "interval"),
        (VictoriaMetricsStore(NOWHERE), "cron"),
    ):
        scheduler = BackgroundScheduler(timezone="UTC")
        create_app(store, load_inventory(), server=flask.Flask("t"), scheduler=scheduler)
        job = scheduler.get_job("dashboard-warm")
        assert job is not None
        assert type(job.trigger).__name__.lower().startswith(trigger)
        store.close()


class Uncounted:
    """A store that does not count its writes (as VictoriaMetrics, written by others)."""

    def __init__(self, store: CountingStore) -> None:
        self._store = store
        self.gaps = store.gaps

    def query(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return self._store.query(*args, **kwargs)

    def series(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return self._store.series(*args, **kwargs)

    def write(self, batch: pd.DataFrame) -> int:
        return self._store.write(batch)

    def close(self) -> None:
        self._store.close()


@pytest.mark.parametrize("missing", [None, "green_energy_joules_total", "water_litres_total"])
def test_without_a_write_count_the_drawing_is_kept_until_the_next_ones(missing: str | None) -> None:
    """What a drawing ahead computed serves visits for ten minutes (a minute otherwise), then
    is read again; also where a metric is metered nowhere (its reads empty, the others not)."""
    counting = CountingStore(":memory:")

    def write(batch: pd.DataFrame) -> int:
        return counting.write(batch[batch["metric"] != missing])

    backfill(Simulator(load_inventory(), seed=3, start=START), write, END)
    clock = [0.0]
    dashboards = load_dashboards(shipped_dir("dashboards"))
    env = Env(
        Uncounted(counting),
        load_inventory(),
        dashboards,
        lambda: END,
        auth=Auth(AuthSettings()),
        cache=TtlCache(monotonic=lambda: clock[0]),
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    install(scheduler, env)
    job = scheduler.get_job("dashboard-warm")
    assert job is not None
    scheduler.start(paused=True)  # running: the drawing goes on
    try:
        job.func()
    finally:
        scheduler.shutdown(wait=False)
    page, _ = dashboards.page_for("/")

    def visit() -> None:
        for panel in page.panels:
            ident = {"panel": f"{page.id}/{panel.id}"}
            if panel.type in GRAPH_TYPES:
                graph_figure(env, "/", "?period=6h", "light", ident)
            elif panel.type not in _panels.LIVE_BLOCKS:
                block_children(env, "/", "?period=6h", ident)

    read = counting.reads
    clock[0] = 9 * 60.0
    visit()
    assert counting.reads == read, "kept past the cache's minute"
    clock[0] = 11 * 60.0
    visit()
    assert counting.reads > read, "read again after ten minutes"
    counting.close()


def _json(figure: Any) -> str:
    return json.dumps(figure, cls=PlotlyJSONEncoder, sort_keys=True)


def test_without_a_write_count_a_page_drawn_before_any_data_is_not_kept() -> None:
    """A new deployment: the first page is drawn as the server starts, before the engine holds
    a sample. What read nothing is not kept, so a visit after the first samples shows them
    (the drawing is kept ten minutes otherwise)."""
    counting = CountingStore(":memory:")
    dashboards = load_dashboards(shipped_dir("dashboards"))

    def env_of(cache: TtlCache) -> Env:
        return Env(
            Uncounted(counting), load_inventory(), dashboards, lambda: END, cache=cache,
            auth=Auth(AuthSettings()),
        )  # fmt: skip

    env = env_of(TtlCache(monotonic=lambda: 0.0))  # the cache's clock stands still
    with kept_for(600):
        assert warm(env) > 0  # drawn from an empty engine
    backfill(Simulator(load_inventory(), seed=3, start=START), counting.write, END)
    page, _ = dashboards.page_for("/")
    fresh = env_of(TtlCache())
    for panel in page.panels:
        ident = {"panel": f"{page.id}/{panel.id}"}
        if panel.type in GRAPH_TYPES:
            shown = _json(graph_figure(env, "/", "", "light", ident))
            assert shown == _json(graph_figure(fresh, "/", "", "light", ident)), panel.id
        elif panel.type not in _panels.LIVE_BLOCKS:
            shown = block_children(env, "/", "", ident)
            assert repr(shown) == repr(block_children(fresh, "/", "", ident)), panel.id
    counting.close()


def test_a_first_visit_minutes_after_the_drawing_finds_its_page_drawn() -> None:
    """The default period is drawn as a first visit asks for it (``/``), and a drawn panel
    serves a visit on a later minute of the same trend step: nothing is read or drawn again.
    A visit in the next step (a new running hour) draws anew. (The cache's own clock stands
    still: how long an entry lives is its TTL's business, what it is kept under is this.)"""
    store = CountingStore(":memory:")
    backfill(Simulator(load_inventory(), seed=3, start=START), store.write, END)
    clock = [END + pd.Timedelta(minutes=5)]
    env = Env(
        store,
        load_inventory(),
        load_dashboards(shipped_dir("dashboards")),
        lambda: clock[0],
        auth=Auth(AuthSettings()),
        cache=TtlCache(monotonic=lambda: 0.0),
    )
    warm(env)
    read = store.reads

    def all_drawn() -> bool:
        view = view_of(env, "/", "")
        return all(_panels.drawn(env, p, view, "light", "")[0] for p in view.page.panels)

    for later in (2, 40):
        clock[0] = END + pd.Timedelta(minutes=5 + later)
        assert all_drawn(), f"{later} minutes later"
    assert store.reads == read
    clock[0] = END + pd.Timedelta(minutes=65)
    assert not all_drawn()
    store.close()
