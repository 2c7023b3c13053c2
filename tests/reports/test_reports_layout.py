"""Table layout of the PDF: fixed column widths, and long names wrapped inside their cells.

The golden report (every table of the template filled: hubs, sites, rankings, changes, compute,
findings, verification, coverage, gaps, factors) is laid out by WeasyPrint with two sites renamed
to 60 characters, one a hyphenated slug and one a single word: no table may be wider than the
page's content and no text may leave its cell (run into the next column or off the page).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from weasyprint import HTML  # type: ignore[import-untyped]
from weasyprint.formatting_structure import boxes  # type: ignore[import-untyped]

from greenwatch.inventory import Inventory
from greenwatch.reports import build_report, parse_period, parse_scope, render_html
from greenwatch.store import DuckDBStore
from tests.reports._golden import golden_compute

GENERATED = pd.Timestamp("2026-11-01T02:00+08:00")
HYPHENATED = "guian-big-data-cluster-guian-new-area-phase-one-data-centre1"
ONE_WORD = "wuxinationalsupercomputingcentretaihulightsunwayphaseonesite"


def _html(golden: tuple[DuckDBStore, Inventory], scope: str) -> str:
    store, inventory = golden
    report = build_report(
        store,
        inventory,
        parse_period("2026-10-05"),
        parse_scope(scope, inventory),
        compute=golden_compute(inventory),
    )
    return render_html(report, GENERATED)


def _cells(box: boxes.Box) -> list[boxes.TableCellBox]:
    found = [box] if isinstance(box, boxes.TableCellBox) else []
    for child in getattr(box, "children", []):
        found += _cells(child)
    return found


def _tables(box: boxes.Box) -> list[boxes.TableBox]:
    found = [box] if isinstance(box, boxes.TableBox) else []
    for child in getattr(box, "children", []):
        found += _tables(child)
    return found


def _text(cell: boxes.TableCellBox) -> str:
    return "".join(t.text for t in cell.descendants() if isinstance(t, boxes.TextBox))


@pytest.mark.parametrize("scope", ["national", "hub:guizhou"])
def test_every_table_sets_its_column_widths(
    golden: tuple[DuckDBStore, Inventory], scope: str
) -> None:
    html = _html(golden, scope)
    tables = re.findall(r"<table[^>]*>\s*<colgroup>(.*?)</colgroup>\s*<thead>(.*?)</thead>", html)
    assert len(tables) == html.count("<table")
    for cols, head in tables:
        widths = [float(w) for w in re.findall(r'<col style="width: ([0-9.]+)%">', cols)]
        assert len(widths) == head.count("<th")
        assert sum(widths) == pytest.approx(100.0)


def test_long_site_names_wrap_inside_their_cells(golden: tuple[DuckDBStore, Inventory]) -> None:
    html = _html(golden, "national").replace("east-a", HYPHENATED).replace("sc-c", ONE_WORD)
    document = HTML(string=html).render()
    cells_with_names = 0
    for page in document.pages:
        root = page._page_box
        content_right = root.content_box_x() + root.width
        for table in _tables(root):
            assert table.position_x + table.border_width() <= content_right + 0.01
        for cell in _cells(root):
            left = cell.position_x
            right = left + cell.border_width()
            for text in (t for t in cell.descendants() if isinstance(t, boxes.TextBox)):
                assert left - 0.01 <= text.position_x, (text.text, left)
                assert text.position_x + text.width <= right + 0.01, (text.text, right)
            name = _text(cell)
            if HYPHENATED in name or ONE_WORD in name:
                assert name in (HYPHENATED, ONE_WORD)  # the whole name, on several lines
                cells_with_names += 1
    assert cells_with_names >= 8  # sites, rankings, changes, compute, coverage, gaps, ...
