"""Dashboard definitions in YAML: the shipped pages load; a bad file stops start-up naming
the file, line and key."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from greenwatch.dashboard import create_app, load_dashboards
from greenwatch.dashboard._maps import site_map
from greenwatch.inventory import load_inventory
from greenwatch.model import ConfigError, shipped_dir
from greenwatch.service import Service
from greenwatch.store import DuckDBStore

SHIPPED = shipped_dir("dashboards")
PAGE = """\
id: extra
title: Extra
path: /extra
panels:
  - id: pue
    type: stat
    title: PUE
    kpi: pue
  - id: temps
    type: timeseries
    title: Temperatures
    query: {metric: temperature_celsius, by: sensor}
"""


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    target = tmp_path / "dashboards"
    shutil.copytree(SHIPPED, target)
    return target


def _error(directory: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_dashboards(directory)
    return caught.value.render()


def test_shipped_dashboards_load() -> None:
    dashboards = load_dashboards(SHIPPED)
    pages = [p.id for p in dashboards.pages]
    assert pages == ["overview", "compute", "network", "site", "alerts", "reports"]
    assert dashboards.pages[0].path == "/"
    assert dashboards.settings.map.show_countries is False
    assert dashboards.settings.map.boundaries is None
    assert dashboards.settings.auth.users_file is None


def test_an_operator_adds_a_page_without_python(pages: Path) -> None:
    (pages / "extra.yaml").write_text(PAGE, encoding="utf-8")
    dashboards = load_dashboards(pages)
    page, site = dashboards.page_for("/extra")
    assert (page.id, site) == ("extra", None)
    assert [p.type for p in page.panels] == ["stat", "timeseries"]
    assert dashboards.page_for("/site/guian-1")[1] == "guian-1"


@pytest.mark.parametrize(
    ("bad", "line", "expected"),
    [
        ("    kpi: pue\n", "    kpi: pue\n    colour: red\n", ":9: panels[0].colour: unknown key"),
        ("    type: stat\n", "    type: gauge\n", ":6: panels[0].type: Input tag 'gauge'"),
        (
            "metric: temperature_celsius",
            "metric: temperature_kelvin",
            ":12: panels[1].query.metric: Value error, unknown metric 'temperature_kelvin'",
        ),
        ("  - id: temps\n", "  - id: pue\n", ":9: panels[1].id: panel id 'pue' is used twice"),
        ("id: extra\n", "id: extra\nwidth: 3\n", ":2: width: unknown key"),
    ],
)
def test_a_bad_page_names_file_line_and_key(
    pages: Path, bad: str, line: str, expected: str
) -> None:
    (pages / "extra.yaml").write_text(PAGE.replace(bad, line, 1), encoding="utf-8")
    message = _error(pages)
    assert str(pages / "extra.yaml") in message
    assert expected in message, message


def test_two_pages_on_one_path(pages: Path) -> None:
    (pages / "zz-copy.yaml").write_text(
        PAGE.replace("id: extra", "id: copy").replace("/extra", "/network"), encoding="utf-8"
    )
    message = _error(pages)
    assert f"{pages / 'zz-copy.yaml'}:3: path: '/network' is already used by" in message


def test_bad_settings(pages: Path) -> None:
    settings = pages / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("default_period: 24h", "default_period: 2w"), encoding="utf-8")
    assert "default_period '2w' is not one of periods" in _error(pages)
    settings.write_text(
        text.replace("boundaries: null", "boundaries: approved.geojson"), encoding="utf-8"
    )
    message = _error(pages)
    assert f"{settings}:" in message
    assert "map.boundaries: no file" in message


def test_yaml_syntax_error(pages: Path) -> None:
    (pages / "extra.yaml").write_text(PAGE.replace("title: PUE", "title: [PUE"), encoding="utf-8")
    message = _error(pages)
    assert str(pages / "extra.yaml") in message
    assert "invalid YAML" in message


def test_serve_refuses_to_start_on_a_bad_page(pages: Path, tmp_path: Path) -> None:
    (pages / "extra.yaml").write_text(PAGE.replace("kpi: pue", "kpi: puee"), encoding="utf-8")
    store = DuckDBStore(tmp_path / "gw.duckdb")
    with pytest.raises(ConfigError) as caught:
        Service(store, load_inventory(), port=0, dashboards=pages, alerting=False)
    store.close()
    assert f"{pages / 'extra.yaml'}:8: panels[0].kpi" in caught.value.render()


def test_boundaries_layer_is_drawn_from_geojson(pages: Path) -> None:
    geojson = pages / "approved.geojson"
    geojson.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
        ' "geometry": {"type": "Polygon", "coordinates": [[[100, 30], [110, 30], [110, 40],'
        " [100, 30]]]}}]}",
        encoding="utf-8",
    )
    settings = pages / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(
        text.replace("boundaries: null", "boundaries: approved.geojson"), encoding="utf-8"
    )
    dashboards = load_dashboards(pages)
    assert dashboards.settings.map.boundaries == geojson
    frame = pd.DataFrame(
        {
            "site": ["a"],
            "name": ["A"],
            "kind": ["ai"],
            "hub": [None],
            "region": ["east"],
            "lat": [31.0],
            "lon": [121.0],
            "pue": [1.3],
            "target_pue": [1.25],
            "coverage": [1.0],
            "it_power_w": [1e6],
            "status": ["within 5 %"],
        }
    )
    figure = site_map(frame, dashboards.settings.map, "light", 400)
    boundary = next(t for t in figure.data if t.name == "boundaries")
    assert list(boundary.lon) == [100, 110, 110, 100, None]
    assert figure.layout.geo.showcountries is False


def test_create_app_reads_a_dashboards_directory(pages: Path) -> None:
    (pages / "extra.yaml").write_text(PAGE, encoding="utf-8")
    app = create_app(DuckDBStore(":memory:"), load_inventory(), dashboards_dir=pages)
    client = app.server.test_client()
    assert client.get("/extra").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert '"Extra"' in layout


def _props(node: Any, ident: str) -> dict[str, Any]:
    """The props of the component with id ``ident`` in a layout's JSON."""
    if isinstance(node, list):
        found = [_props(child, ident) for child in node]
        return next((f for f in found if f), {})
    if not isinstance(node, dict):
        return {}
    props = node.get("props", {})
    if props.get("id") == ident:
        return dict(props)
    return _props(props.get("children"), ident)


def test_the_layout_comes_with_the_page_of_the_url_that_asks_for_it() -> None:
    """The page's URL comes as the referrer of the layout request (its own origin only)."""
    client = create_app(DuckDBStore(":memory:"), load_inventory()).server.test_client()

    def layout(referrer: str | None) -> Any:
        headers = {"Referer": referrer} if referrer else {}
        return client.get("/_dash-layout", headers=headers).get_json()

    own = layout("http://localhost/network?period=7d")
    url = _props(own, "url")
    assert (url["pathname"], url["search"]) == ("/network", "?period=7d")
    assert _props(own, "page")["children"]
    assert _props(own, "view-note")["children"]
    for other in (None, "http://elsewhere.example/network?period=7d"):
        assert "pathname" not in _props(layout(other), "url")
        assert _props(layout(other), "page").get("children") is None


def test_the_layout_comes_in_the_theme_the_browser_keeps() -> None:
    client = create_app(DuckDBStore(":memory:"), load_inventory()).server.test_client()
    for cookie, theme in (("dark", "dark"), ("light", "light"), ("<script>", "light")):
        client.set_cookie("gw_theme", cookie)
        layout = client.get("/_dash-layout").get_json()
        assert _props(layout, "theme")["data"] == theme
        assert layout["props"]["className"] == f"gw theme-{theme}"
