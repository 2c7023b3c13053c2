"""The overview's site table, drawn on the server as HTML: whatever the inventory's names and
hubs hold, each is its row's text (never markup), every row links to its site page with the
view kept, and the table holds every site."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwatch.dashboard import load_dashboards
from greenwatch.dashboard._auth import Auth
from greenwatch.dashboard._components import StaticHtml
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._routing import view_of
from greenwatch.dashboard._spec import AuthSettings
from greenwatch.dashboard._tables import site_table
from greenwatch.inventory import Inventory, load_inventory
from greenwatch.model import shipped_dir
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

START = pd.Timestamp("2026-03-02T00:00:00Z")
END = START + pd.Timedelta(hours=2)
BASE = load_inventory()
STORE = DuckDBStore(":memory:")
backfill(Simulator(BASE, seed=3, start=START), STORE.write, END)
DASHBOARDS = load_dashboards(shipped_dir("dashboards"))


class Rows(HTMLParser):
    """Each body row's cell texts, and its link's href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str | None, list[str]]] = []
        self.elements: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)
        if tag == "tr" and ("class", "site-row") in attrs:
            self.rows.append((None, []))
        elif tag == "td" and self.rows:
            self._cell = []
        elif tag == "a" and self.rows:
            self.rows[-1] = (dict(attrs)["href"], self.rows[-1][1])

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _renamed(names: list[str], hub: str) -> Inventory:
    sites = [
        s.model_copy(update={"name": names[k % len(names)], "hub": hub or s.hub})
        for k, s in enumerate(BASE.sites)
    ]
    return BASE.model_copy(update={"sites": tuple(sites)})


MARKUP = st.sampled_from([*"<>&\"'{}/=;# ", "<img src=x onerror=alert(1)>", "&amp;", "</a>"])
TEXT = st.lists(
    MARKUP | st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20
).map("".join)


@given(names=st.lists(TEXT.filter(str.strip), min_size=1, max_size=5), hub=TEXT)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_names_are_text_and_rows_link_their_sites(names: list[str], hub: str) -> None:
    inventory = _renamed(names, hub)
    env = Env(STORE, inventory, DASHBOARDS, lambda: END, auth=Auth(AuthSettings()))
    search = "?period=6h&theme=dark"
    page, _ = DASHBOARDS.page_for("/")
    panel = next(p for p in page.panels if p.type == "site_table")
    drawn = site_table(panel, view_of(env, "/", search), env, search)
    table = drawn.children
    assert isinstance(table, StaticHtml)
    parsed = Rows()
    parsed.feed(table.html)
    parsed.close()
    assert set(parsed.elements) <= {"table", "thead", "tbody", "tr", "th", "td", "a"}
    by_site = {s.id: s for s in inventory.sites}
    assert len(parsed.rows) == len(by_site)
    for href, cells in parsed.rows:
        assert href is not None
        path, _, query = href.partition("?")
        site = by_site[path.removeprefix("/site/")]
        assert query == search.lstrip("?")
        assert cells[0] == site.name
        assert cells[1] == (site.hub or "—")
