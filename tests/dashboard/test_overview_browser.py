"""Every dashboard page in real Chromium against a running ``greenwatch serve`` with demo data.

One service for the module: a simulated day of the national network (with the demo's scripted
faults), its alert engine evaluated so alerts fire, and one report in the archive. Chromium
may reach 127.0.0.1 only: any other request is aborted and fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pandas as pd
import pytest
from tests.browser import Chromium, open_dashboard, screenshot, settle
from tests.conftest import free_port

from greenwatch.inventory import load_inventory
from greenwatch.query import Scope
from greenwatch.reports import make_report
from greenwatch.reports import parse_period as report_period
from greenwatch.service import Service, backfill, demo_scenarios
from greenwatch.service._tokens import TokenStore
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

pytestmark = pytest.mark.integration
START = pd.Timestamp("2026-07-01T00:00:00Z")
END = START + pd.Timedelta(days=1)
PAGES = {
    "overview": "/",
    "network": "/network",
    "site": "/site/shaoguan-1",
    "alerts": "/alerts",
    "reports": "/reports",
}
# Screen position of the first link's mid-point marker in the link graph (trace "links").
LINK_MARKER = """() => {
    const gd = document.querySelector('#panel-network-link-graph .js-plotly-plot');
    const k = gd._fullData.findIndex(t => t.name === 'links');
    const dot = gd.querySelectorAll('.scatterlayer .trace')[k].querySelector('.point');
    const r = dot.getBoundingClientRect();
    return [r.x + r.width / 2, r.y + r.height / 2];
}"""


@dataclass
class Served:
    service: Service
    token: str

    @property
    def url(self) -> str:
        return self.service.url.rstrip("/")

    def api(self, path: str) -> httpx.Response:
        return httpx.get(
            self.url + path, headers={"Authorization": f"Token {self.token}"}, timeout=10
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data = tmp_path_factory.mktemp("serve")
    inventory = load_inventory()
    store = DuckDBStore(data / "greenwatch.duckdb")
    scenarios = demo_scenarios(inventory, START, END)
    backfill(Simulator(inventory, seed=1, start=START, scenarios=scenarios), store.write, END)
    tokens = TokenStore(None)
    token = tokens.create(["admin"], name="test")
    svc = Service(
        store, inventory, port=free_port(), clock=lambda: END, data_dir=data, tokens=tokens
    )
    assert svc.alerts is not None
    # Two evaluations an hour apart: rules with ``for`` up to an hour move on to firing.
    svc.alerts.evaluate(END - pd.Timedelta(hours=1))
    svc.alerts.evaluate(END)
    make_report(
        store,
        inventory,
        report_period("2026-07-01"),
        Scope("national"),
        formats=["html", "csv"],
        archive_dir=data / "reports",
        generated_at=END,
    )
    svc.start()
    yield Served(svc, token)
    svc.stop()


def test_overview_renders_every_site_offline(served: Served, browser: Chromium) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, served.url + "/")
        page.wait_for_function(  # type: ignore[attr-defined]
            "document.querySelectorAll('#panel-overview-map .scattergeo .point').length > 0",
            timeout=30_000,
        )
        points = page.evaluate(  # type: ignore[attr-defined]
            "document.querySelectorAll('#panel-overview-map .scattergeo .point').length"
        )
        coast = page.evaluate(  # type: ignore[attr-defined]
            "document.querySelectorAll('#panel-overview-map .coastlines path, "
            "#panel-overview-map path.coastlines').length"
        )
        tiles = page.locator(".tile .tile-note").all_inner_texts()  # type: ignore[attr-defined]
        pue = page.inner_text("#panel-overview-pue .tile-value")  # type: ignore[attr-defined]
        rows = page.locator(".site-row").count()  # type: ignore[attr-defined]
        trend_points = page.evaluate(  # type: ignore[attr-defined]
            "document.querySelector('#panel-overview-pue-trend .scatterlayer path.js-line')"
            ".getAttribute('d').split('L').length"
        )
        screenshot(page, "overview.png")
    sites = len(served.service.inventory.sites)
    assert points == sites >= 35
    assert rows == sites
    assert coast >= 1, "the coastline layer did not draw (topojson not served?)"
    assert 1.05 < float(pue) < 1.6
    assert len(tiles) == 6
    assert all("coverage" in t for t in tiles), tiles
    assert trend_points >= 23, "the hourly national PUE trend should have a point per hour"
    assert log.console_errors == []
    assert log.outside_loopback() == []


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_without_errors(served: Served, browser: Chromium, name: str) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, served.url + PAGES[name])
        panels = page.locator(".panel").count()  # type: ignore[attr-defined]
        empty = page.evaluate(  # type: ignore[attr-defined]
            """[...document.querySelectorAll('.panel')].filter(p =>
                !p.querySelector('.main-svg') &&
                !(p.querySelector('.panel-body') || {innerText: ''}).innerText.trim()
            ).map(p => p.id)"""
        )
        screenshot(page, f"{name}.png")
    assert panels >= 1
    assert empty == [], f"panels left blank: {empty}"
    assert log.console_errors == []
    assert log.outside_loopback() == []


def test_dark_theme(served: Served, browser: Chromium) -> None:
    """The toggle draws the page dark; the theme kept in the browser reaches the server, so the
    next page comes laid out in it."""
    with browser.page() as (page, log):
        open_dashboard(page, served.url + "/")
        page.click("#theme-toggle")  # type: ignore[attr-defined]
        page.wait_for_selector("#gw-root.theme-dark")  # type: ignore[attr-defined]
        settle(page)
        page.wait_for_timeout(300)  # type: ignore[attr-defined]
        background = page.evaluate(  # type: ignore[attr-defined]
            "getComputedStyle(document.querySelector('#panel-overview-pue-trend .main-svg'))"
            ".backgroundColor"
        )
        screenshot(page, "overview-dark.png")
        with page.expect_response("**/_dash-layout") as answer:  # type: ignore[attr-defined]
            page.reload()  # type: ignore[attr-defined]
        layout = answer.value.json()
        settle(page)
        paper = page.evaluate(  # type: ignore[attr-defined]
            "document.querySelector('#panel-overview-pue-trend .js-plotly-plot')"
            "._fullLayout.paper_bgcolor"
        )
    assert background in {"rgb(28, 33, 40)", "rgba(0, 0, 0, 0)"} or "28, 33, 40" in background
    assert layout["props"]["className"] == "gw theme-dark"
    assert paper == "#1c2128"
    assert log.console_errors == []


def test_drill_down_from_map_point_and_table_row(served: Served, browser: Chromium) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, served.url + "/?period=24h")
        point = page.locator("#panel-overview-map .scattergeo .point").first  # type: ignore[attr-defined]
        box = point.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"/site/[a-z0-9-]+"), timeout=15_000)  # type: ignore[attr-defined]
        from_map = page.url  # type: ignore[attr-defined]
        settle(page)
        title = page.inner_text(".page-title")  # type: ignore[attr-defined]

        open_dashboard(page, served.url + "/")
        row = page.locator(".site-row").nth(3)  # type: ignore[attr-defined]
        site = row.get_attribute("data-site")
        overview = page.url  # type: ignore[attr-defined]
        with page.context.expect_page() as opened:  # type: ignore[attr-defined]
            row.locator("a").click(modifiers=["Control"])  # the browser's: a new tab
        opened.value.close()
        assert page.url == overview  # type: ignore[attr-defined]
        page.evaluate("window.stayed = true")  # type: ignore[attr-defined]
        row.locator("a").click()
        page.wait_for_url(re.compile(f"/site/{site}"), timeout=15_000)  # type: ignore[attr-defined]
        settle(page)
        in_page = page.evaluate("window.stayed === true")  # type: ignore[attr-defined]
        site_title = page.inner_text(".page-title")  # type: ignore[attr-defined]
        power = page.locator("#panel-site-power .main-svg").count()  # type: ignore[attr-defined]
    names = {s.id: s.name for s in served.service.inventory.sites}
    clicked = from_map.rsplit("/site/", 1)[1].split("?")[0]
    assert clicked in names
    assert title == names[clicked]
    assert site_title == names[site]
    assert in_page, "a row's link reloaded the dashboard instead of opening the site in it"
    assert power >= 1
    assert log.console_errors == []


def test_url_encodes_the_view(served: Served, browser: Chromium) -> None:
    with browser.page() as (page, _log):
        open_dashboard(page, served.url + "/site/guian-1?period=7d")
        checked = page.locator("#period input:checked").get_attribute("value")  # type: ignore[attr-defined]
        page.locator("#period label", has_text="30d").click()  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"period=30d"), timeout=10_000)  # type: ignore[attr-defined]
        settle(page)
        note = page.inner_text("#view-note")  # type: ignore[attr-defined]
        page.locator(".nav-link", has_text="Network").click()  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"/network\?period=30d"), timeout=10_000)  # type: ignore[attr-defined]
    assert checked == "7d"
    assert "2026-06-02 00:00 → 2026-07-02 00:00" in note


def test_a_first_visit_comes_with_its_page(served: Served, browser: Chromium) -> None:
    """The layout is laid out for the URL that asks for it: no callback draws the page."""
    with browser.page() as (page, log):
        asked: list[str] = []
        page.on(  # type: ignore[attr-defined]
            "request",
            lambda r: asked.append(r.post_data or "") if "_dash-update" in r.url else None,
        )
        open_dashboard(page, served.url + "/site/guian-1?period=7d")
        title = page.inner_text(".page-title")  # type: ignore[attr-defined]
        checked = page.locator("#period input:checked").get_attribute("value")  # type: ignore[attr-defined]
    assert title == next(s.name for s in served.service.inventory.sites if s.id == "guian-1")
    assert checked == "7d"
    assert asked
    assert not [body for body in asked if '"page.children' in body]
    assert log.console_errors == []


@pytest.mark.parametrize("referrer", ["none", "origin"])
def test_a_layout_asked_for_without_the_url_still_shows_its_page(
    served: Served, browser: Chromium, referrer: str
) -> None:
    """A layout request without the page's URL (no referrer, or one cut to the origin by the
    browser) still ends on the URL's page."""
    with browser.page() as (page, log):

        def layout(r: object) -> None:
            """The layout as the server answers a request with that referrer."""
            headers = {
                k: v
                for k, v in r.request.headers.items()  # type: ignore[attr-defined]
                if k.lower() != "referer"
            }
            if referrer == "origin":
                headers["referer"] = served.url + "/"
            r.fulfill(response=r.fetch(headers=headers))  # type: ignore[attr-defined]

        page.route("**/_dash-layout", layout)  # type: ignore[attr-defined]
        open_dashboard(page, served.url + "/site/guian-1?period=7d")
        page.wait_for_selector("#panel-site-power .main-svg", timeout=15_000)  # type: ignore[attr-defined]
        title = page.inner_text(".page-title")  # type: ignore[attr-defined]
        checked = page.locator("#period input:checked").get_attribute("value")  # type: ignore[attr-defined]
        note = page.inner_text("#view-note")  # type: ignore[attr-defined]
    assert title == next(s.name for s in served.service.inventory.sites if s.id == "guian-1")
    assert checked == "7d"
    assert "2026-06-25 00:00 → 2026-07-02 00:00" in note
    # Cut to the origin, the layout comes with the overview, whose map is replaced while it
    # fetches its coastlines (Plotly says so); nothing else may go wrong.
    assert [e for e in log.console_errors if referrer == "none" or "topojson" not in e] == []


def test_the_picker_drops_a_custom_start_and_keeps_the_rest(
    served: Served, browser: Chromium
) -> None:
    """The picker sets the URL in the browser, as the server would (``with_params``): other
    parameters stay, as they do from page to page."""
    pinned = "/?end=2026-07-01T00%3A00Z&start=2026-06-30T00%3A00Z&edge=loss"
    with browser.page() as (page, log):
        open_dashboard(page, served.url + pinned)
        page.locator("#period label", has_text="7d").click()  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"period=7d"), timeout=10_000)  # type: ignore[attr-defined]
        settle(page)
        query = page.evaluate("location.search")  # type: ignore[attr-defined]
        note = page.inner_text("#view-note")  # type: ignore[attr-defined]
    assert query == "?end=2026-07-01T00%3A00Z&edge=loss&period=7d"
    assert "pinned · 2026-06-24 00:00 → 2026-07-01 00:00 UTC" in note
    assert log.console_errors == []


def test_click_a_link_for_its_history(served: Served, browser: Chromium) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, served.url + "/network")
        x, y = page.evaluate(LINK_MARKER)  # type: ignore[attr-defined]
        page.mouse.move(x, y)  # type: ignore[attr-defined]
        page.mouse.click(x, y)  # type: ignore[attr-defined]
        page.wait_for_url(re.compile(r"link=[a-z0-9-]+"), timeout=15_000)  # type: ignore[attr-defined]
        settle(page)
        link = re.search(r"link=([a-z0-9-]+)", page.url).group(1)  # type: ignore[attr-defined, union-attr]
        title = page.text_content("#panel-network-link-history .gtitle")  # type: ignore[attr-defined]
        selected = page.inner_text(".link-row.selected")  # type: ignore[attr-defined]
        screenshot(page, "network-link.png")
    assert link in {lk.id for lk in served.service.inventory.links}
    assert title is not None
    assert title.startswith(link)
    assert link in selected
    assert log.console_errors == []


def test_silence_and_acknowledge_from_the_ui_show_in_the_api(
    served: Served, browser: Chromium
) -> None:
    before = served.api("/api/v1/alerts?state=firing&silenced=false").json()["data"]
    assert len(before) >= 2, "the demo day should have firing alerts"
    with browser.page() as (page, log):
        open_dashboard(page, served.url + "/alerts")
        rows = page.locator(".alert-row.alert-firing")  # type: ignore[attr-defined]
        first = rows.nth(0).get_attribute("data-fingerprint")
        rows.nth(0).locator("button").click()
        page.wait_for_function(  # type: ignore[attr-defined]
            "document.querySelector('#silence-matchers').value.includes('alertname=')"
        )
        page.fill("#alert-comment", "chiller maintenance, vendor on site")  # type: ignore[attr-defined]
        page.click("#silence-button")  # type: ignore[attr-defined]
        page.wait_for_selector("#alert-action-result .ok-note", timeout=10_000)  # type: ignore[attr-defined]
        result = page.inner_text("#alert-action-result")  # type: ignore[attr-defined]
        settle(page)
        second = page.locator(".alert-row.alert-firing").nth(0)  # type: ignore[attr-defined]
        acked = second.get_attribute("data-fingerprint")
        second.locator("button").click()
        page.fill("#alert-comment", "looking into it")  # type: ignore[attr-defined]
        page.click("#ack-button")  # type: ignore[attr-defined]
        page.wait_for_function(  # type: ignore[attr-defined]
            "document.querySelector('#alert-action-result').innerText.startsWith('Acknowledged')"
        )
        settle(page)
        silence_rows = page.locator(".silence-row").count()  # type: ignore[attr-defined]
        screenshot(page, "alerts-after-silence.png")
    assert result.startswith("Silence")
    silenced = served.api(f"/api/v1/alerts/{first}").json()["data"]
    assert silenced["silenced"] is True
    silences = served.api("/api/v1/silences").json()["data"]
    assert any(s["comment"] == "chiller maintenance, vendor on site" for s in silences)
    assert served.api(f"/api/v1/alerts/{acked}").json()["data"]["acknowledged"]["comment"] == (
        "looking into it"
    )
    assert silence_rows >= 1
    assert log.console_errors == []


def test_reports_are_listed_and_download(served: Served, browser: Chromium) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, served.url + "/reports")
        rows = page.locator(".report-row").count()  # type: ignore[attr-defined]
        href = page.locator(".report-row a").first.get_attribute("href")  # type: ignore[attr-defined]
    assert rows >= 1
    assert href is not None
    got = httpx.get(served.url + href, timeout=10)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/html")
    assert httpx.get(served.url + "/reports/download/nope/x.html", timeout=10).status_code == 404
    assert log.console_errors == []


def test_health_endpoints(served: Served) -> None:
    assert httpx.get(served.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(served.url + "/readyz").status_code == 200
