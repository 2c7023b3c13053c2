"""The national overview drawn before anyone asks, so that a first visit finds it ready.

The first page's panels cost seconds to compute from the store (every site's totals of the
period, the hourly trends), and a visitor would wait for them. A job on the service's scheduler
draws them in the background as soon as the server starts, then every few minutes: each period
of the picker, the longest (the slowest to compute) first, the default one as a first visit
asks for it (``/``), through the callbacks' own caches.
The store reads it makes are kept until the store's next write (``greenwatch.query``), the
figures for a minute (within a trend step), so a visit that comes later still reads nothing
again.

A store that does not count its writes (VictoriaMetrics, written by other processes) cannot say
when an answer goes stale, so the dashboard keeps its answers a minute. For it the first page is
drawn every five minutes, half a minute past (so soon after each hour a period ends on), and
what a drawing computes is kept ten minutes, past the next drawing: the first page's figures may
be that old (a late write shows within ten minutes), in exchange for a first visit that computes
nothing at a national network's size. What read no samples (a new deployment's first drawing,
before the first data) is not kept (``_cache.TtlCache``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

from greenwatch.dashboard._blocks import panel_key
from greenwatch.dashboard._cache import generation_of, kept_for
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._layout import THEME
from greenwatch.dashboard._panels import LIVE_BLOCKS, block_children, graph_figure
from greenwatch.dashboard._spec import GRAPH_TYPES
from greenwatch.dashboard._view import period_span

WARM_EVERY_MIN = 10
# A store that does not count its writes: drawn at these minutes (and seconds) of every hour,
# and what a drawing computes kept this long.
ENGINE_MINUTES, ENGINE_SECOND = "*/5", 30
ENGINE_KEEP_S = 10 * 60


def install(scheduler: Any, env: Env) -> None:
    """Draw the first page on ``scheduler`` (APScheduler) at once, then every few minutes
    (for a store that does not count its writes, at fixed minutes, its figures kept until
    the next drawings); a run stops between panels once the scheduler shuts down."""
    counted = generation_of(env.raw_store) is not None

    def job() -> int:
        with nullcontext() if counted else kept_for(ENGINE_KEEP_S):
            return warm(env, lambda: bool(scheduler.running))

    when: dict[str, Any] = (
        {"trigger": "interval", "minutes": WARM_EVERY_MIN}
        if counted
        else {"trigger": "cron", "minute": ENGINE_MINUTES, "second": ENGINE_SECOND}
    )
    scheduler.add_job(
        job,
        id="dashboard-warm",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
        **when,
    )


def warm(env: Env, going: Callable[[], bool] = lambda: True) -> int:
    """Draw every panel of the first page in each period, longest first, as its callback
    would: the URL ``/?period=P``, the default period's ``/`` (as a first visit asks for it);
    the count of panels drawn. Stops when ``going()`` turns false."""
    page, _ = env.dashboards.page_for("/")
    settings = env.dashboards.settings
    drawn = 0
    for period in sorted(settings.periods, key=period_span, reverse=True):
        search = "" if period == settings.default_period else f"?period={period}"
        for panel in page.panels:
            if not going():
                return drawn
            ident = {"panel": panel_key(page, panel)}
            if panel.type in LIVE_BLOCKS:
                continue  # drawn anew on every visit
            if panel.type in GRAPH_TYPES:
                graph_figure(env, page.path, search, THEME, ident)
            else:
                block_children(env, page.path, search, ident)
            drawn += 1
    return drawn
