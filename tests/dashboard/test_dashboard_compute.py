"""Computing-power panels on the built-in inventory over a simulated DuckDB store.

The compute source adds one pool the collectors only partly see (512 H100 registered at
guian-1, 480 reported) and three verification records (ok, failed, stale), so the findings
panel has something to say whatever the simulator reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from greenwatch.dashboard import load_dashboards
from greenwatch.dashboard._auth import Auth
from greenwatch.dashboard._blocks import BLOCKS
from greenwatch.dashboard._compute_panels import flops_text, significant
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._graphs import render_graph
from greenwatch.dashboard._spec import Page, PlacementPanel, parse_page
from greenwatch.dashboard._view import View, parse_view
from greenwatch.inventory import ComputePool, Inventory, load_inventory
from greenwatch.model import ConfigError, load_yaml, make_batch, shipped_dir
from greenwatch.query import PoolsAndRecords, declared_pools
from greenwatch.resources import verification_frame
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

START = pd.Timestamp("2026-03-02T00:00:00Z")
END = START + pd.Timedelta(hours=6)
H100_FP16 = 989.4e12
H100 = ComputePool.model_validate(
    {"id": "h100", "class": "ai", "model": "nvidia-h100-sxm", "count": 512}
)
RECORDS = pd.DataFrame(
    [
        (
            "guian-1",
            "h100",
            "gpu-burn",
            "fp16",
            8 * 0.8 * H100_FP16,
            8,
            True,
            END - pd.Timedelta(days=1),
        ),
        ("zhongwei-2", "ai", "hpl-mxp", "fp16", np.nan, 6000, False, END - pd.Timedelta(hours=2)),
        ("sc-wuxi", "taihulight", "hpl", "fp64", 9.3e16, 40960, True, END - pd.Timedelta(days=200)),
    ],
    columns=list(verification_frame(()).columns),
).astype(verification_frame(()).dtypes.to_dict())


class Source:
    """A compute source (the registry's, in the service) that counts how often it is asked."""

    def __init__(self, inventory: Inventory) -> None:
        self.pools = [*declared_pools(inventory), ("guian-1", H100)]
        self.calls = 0

    def __call__(self) -> PoolsAndRecords:
        self.calls += 1
        return self.pools, RECORDS


def _h100_seen(store: DuckDBStore) -> None:
    """Collectors at guian-1 report 480 of the 512 registered H100s for the last 10 minutes."""
    ts = pd.date_range(END - pd.Timedelta(minutes=10), END, freq="1min", inclusive="left")
    labels = {
        "site": "guian-1",
        "device_kind": "gpu",
        "model": "NVIDIA H100 80GB HBM3",
        "source": "h100-pod",
    }
    store.write(make_batch(ts, "compute_devices", 480.0, labels))


@pytest.fixture(scope="module")
def store() -> Iterator[DuckDBStore]:
    db = DuckDBStore(":memory:")
    backfill(Simulator(load_inventory(), seed=3, start=START), db.write, END)
    _h100_seen(db)
    yield db
    db.close()


@pytest.fixture
def env(store: DuckDBStore) -> Env:
    dashboards = load_dashboards(shipped_dir("dashboards"))
    inventory = load_inventory()
    return Env(
        store,
        inventory,
        dashboards,
        lambda: END,
        auth=Auth(dashboards.settings.auth),
        compute=Source(inventory),
    )


def _view(env: Env, path: str) -> View:
    return parse_view(path, "?period=6h", env.dashboards, END, pd.Timedelta(minutes=1))


def _text(node: Any) -> str:
    """The visible text of a Dash component tree."""
    if node is None:
        return ""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list | tuple):
        return "".join(_text(n) for n in node)
    return _text(getattr(node, "children", None))


def _find(node: Any, cls: str) -> list[Any]:
    """Components whose className has ``cls``."""
    found = []
    if isinstance(node, list | tuple):
        for n in node:
            found += _find(n, cls)
        return found
    if cls in str(getattr(node, "className", "") or "").split():
        found.append(node)
    children = getattr(node, "children", None)
    return found + (_find(children, cls) if children is not None else [])


def _render(env: Env, path: str, panel_id: str) -> Any:
    view = _view(env, path)
    panel = next(p for p in view.page.panels if p.id == panel_id)
    return BLOCKS[panel.type](panel, view, env, "")


def test_flops_read_in_the_unit_of_their_size() -> None:
    assert flops_text(1.2005e20) == "120 EFLOPS"
    assert flops_text(5.904e19) == "59.0 EFLOPS"
    assert flops_text(4.0654e18) == "4.07 EFLOPS"
    assert flops_text(6.958e17) == "696 PFLOPS"
    assert flops_text(1.28e16) == "12.8 PFLOPS"
    assert flops_text(3.5e13) == "35.0 TFLOPS"
    assert flops_text(0.0) == "0 FLOPS"
    assert flops_text(float("nan")) == "—"
    assert significant(1234.5) == "1,234"


def test_national_tiles_show_eflops_with_identified_and_coverage(env: Env) -> None:
    figures = env.compute_figures(_view(env, "/compute"))
    nation = figures.power("national").set_index("class")
    rated = _text(_render(env, "/compute", "ai-rated"))
    # 120.05 EFLOPS declared + 512 x 989.4 TFLOPS = 0.51 EFLOPS more.
    assert nation.loc["ai", "rated_flops"] == pytest.approx(1.200513e20 + 512 * H100_FP16, rel=1e-6)
    assert rated.startswith("121 EFLOPS")
    assert "identified" in rated
    assert " · FP16 · " in rated
    available = _text(_render(env, "/compute", "ai-available"))
    assert available.startswith(flops_text(nation.loc["ai", "available_flops"]))
    assert "EFLOPS" in _text(_render(env, "/compute", "general-rated"))
    assert " · FP64 · " in _text(_render(env, "/compute", "general-rated"))
    efficiency = figures.efficiency("national").set_index("class")
    delivered = _text(_render(env, "/compute", "ai-delivered"))
    assert delivered.startswith(flops_text(efficiency.loc["ai", "delivered_flops"]))
    assert "coverage" in delivered
    per_watt = _text(_render(env, "/compute", "ai-efficiency"))
    assert per_watt.startswith(significant(float(efficiency.loc["ai", "flops_per_watt"]) / 1e9))
    assert "GFLOPS/W" in per_watt
    assert "kWh/PFLOP-h" in _text(_render(env, "/compute", "general-energy"))
    assert "kgCO2/PFLOP-h" in _text(_render(env, "/compute", "general-carbon"))
    share = float(figures.share("west").set_index("class").loc["ai", "rated_share"])
    assert _text(_render(env, "/compute", "ai-west")).startswith(f"{share:.0%}")
    for tile in ("ai-rated", "ai-delivered", "ai-free", "ai-west", "general-energy"):
        assert _find(_render(env, "/compute", tile), "coverage"), tile


def test_findings_list_missing_devices_and_unverified_pools(env: Env) -> None:
    body = _render(env, "/compute", "findings")
    rows = _find(body, "finding-row")
    h100 = next(r for r in rows if "nvidia-h100-sxm" in _text(r))
    assert "Gui'an" in _text(h100)
    assert "512" in _text(h100)
    assert "480" in _text(h100)
    assert "-32" in _text(h100)
    assert "missing" in _text(h100)
    assert "32 missing" in h100.title
    checks = [_text(r) for r in _find(body, "verification-row")]
    assert "failed" in checks[0]
    assert "zhongwei-2" not in checks[0]  # sites are named, not numbered
    assert "hpl-mxp" in checks[0]
    assert "stale" in checks[1]
    assert "200 d ago" in checks[1]
    assert all("never" in c for c in checks[2:])
    assert len(checks) == 15  # the page's limit, then "… and N more"
    summary = _text(_find(body, "compute-summary"))
    assert "1 failed" in summary
    assert "1 stale" in summary
    assert "1 ok" in summary


def test_failed_verification_leaves_nothing_available(env: Env) -> None:
    figures = env.compute_figures(_view(env, "/compute"))
    status = figures.status.set_index(["site", "pool"])
    assert status.loc[("zhongwei-2", "ai"), "available_flops"] == 0.0
    assert status.loc[("guian-1", "h100"), "available_flops"] == pytest.approx(480 * H100_FP16)
    rows = {_text(r.children[0]) + "/" + _text(r.children[1]): r for r in _table_rows(env)}
    failed = _text(rows["Zhongwei Cluster DC 2/AI (FP16)"])
    assert "failed · 2 h ago" in failed
    assert "0 FLOPS" in failed  # available


def _table_rows(env: Env) -> list[Any]:
    return _find(_render(env, "/compute", "sites"), "compute-row")


def test_tables_per_hub_and_site_keep_classes_apart(env: Env) -> None:
    figures = env.compute_figures(_view(env, "/compute"))
    hubs = _find(_render(env, "/compute", "hubs"), "compute-row")
    assert len(hubs) == len(figures.power("hub"))
    first = [_text(r.children[0]) for r in hubs]
    assert "outside hubs" in first
    assert "guizhou" in first
    assert {_text(r.children[1]) for r in hubs} == {
        "AI (FP16)",
        "general (FP64)",
        "supercomputing (FP64)",
    }
    assert len(_table_rows(env)) == len(figures.power("site"))


def test_site_page_lists_the_sites_pools(env: Env) -> None:
    rows = _find(_render(env, "/site/guian-1", "pools"), "compute-row")
    pools = [_text(r.children[1]) for r in rows]
    assert pools == ["general", "ai", "h100"]
    h100 = _text(rows[2])
    assert "94%" in h100  # 480 of 512 seen
    assert "ok · 24 h · gpu-burn 80% of peak" in h100


def test_chart_shows_rated_and_available_per_hub_and_class(env: Env) -> None:
    view = _view(env, "/compute")
    panel = next(p for p in view.page.panels if p.id == "by-hub")
    fig = render_graph(panel, view, env, "dark")
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [
        "AI (FP16), EFLOPS",
        "general (FP64), PFLOPS",
        "supercomputing (FP64), EFLOPS",
    ]
    assert [t.name for t in fig.data] == ["rated", "available"] * 3
    ai_rated, ai_available = fig.data[0], fig.data[1]
    guizhou = list(ai_rated.x).index("guizhou")
    assert ai_available.y[guizhou] < ai_rated.y[guizhou]  # 32 H100s not seen
    ningxia = list(ai_rated.x).index("ningxia")
    # zhongwei-2's failed pool (6,000 H20 = 0.888 EFLOPS) is not available.
    assert ai_rated.y[ningxia] - ai_available.y[ningxia] == pytest.approx(0.888, rel=1e-3)


def test_figures_are_computed_once_per_period(env: Env) -> None:
    source = env.compute
    assert isinstance(source, Source)
    view = _view(env, "/compute")
    for panel in view.page.panels:
        if panel.type in BLOCKS:
            BLOCKS[panel.type](panel, view, env, "")
        else:
            render_graph(panel, view, env, None)
    _render(env, "/site/guian-1", "pools")
    assert source.calls == 1
    week = parse_view("/compute", "?period=7d", env.dashboards, END, pd.Timedelta(minutes=1))
    env.compute_figures(week)
    assert source.calls == 2


def test_placement_needs_free_flops_of_the_class(env: Env) -> None:
    view = _view(env, "/site/guian-1")
    shipped = next(p for p in view.page.panels if p.type == "placement")
    assert isinstance(shipped, PlacementPanel)
    assert (shipped.compute_class, shipped.workload_pflops) == ("ai", 50.0)
    big = shipped.model_copy(update={"workload_pflops": 5000.0, "limit": 100})
    table = BLOCKS["placement"](big, view, env, "").children[1]
    head = [_text(th) for th in table.children[0].children.children]
    assert "free PFLOPS" in head
    free = env.compute_figures(view).free
    ai = free[free["class"] == "ai"].set_index("site")["free_flops"]
    rows = table.children[1].children
    assert len(rows) > 10
    for row in rows:
        site = row.title.split(":")[0]
        pflops = ai.get(site, 0.0) / 1e15
        assert f"; free {pflops:,.4g} PFLOPS" in row.title
        assert _text(row.children[head.index("free PFLOPS")]) == f"{pflops:,.0f}"
        if pflops < 5000:
            assert _text(row.children[-1]) == "no"
            assert "PFLOPS < 5,000 PFLOPS needed; not feasible" in row.title
    assert any(_text(r.children[-1]) == "yes" for r in rows)


BAD_PANELS = [
    ("{id: x, type: compute_stat, title: X, figure: rated, class: quantum}", "panels[0].class"),
    ("{id: x, type: compute_stat, title: X, figure: speed, class: ai}", "panels[0].figure"),
    (
        "{id: x, type: compute_stat, title: X, figure: rated, class: ai, scope: 'planet:x'}",
        "panels[0].scope",
    ),
    ("{id: x, type: compute_table, title: X, level: planet}", "panels[0].level"),
    ("{id: x, type: placement, title: X, workload_pflops: 5}", "workload_pflops needs the class"),
]


@pytest.mark.parametrize(("panel", "expected"), BAD_PANELS)
def test_bad_compute_panels_name_the_line_and_key(
    tmp_path: Path, panel: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"id: bad\ntitle: Bad\npath: /bad\npanels:\n  - {panel}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_page(load_yaml(path))
    assert f"{path}:5: " in caught.value.render()
    assert expected in caught.value.render()


def test_the_shipped_compute_page(env: Env) -> None:
    page: Page = env.dashboards.page_for("/compute")[0]
    assert page.title == "Computing power"
    types = {p.type for p in page.panels}
    assert types == {"compute_stat", "compute_chart", "compute_findings", "compute_table"}
