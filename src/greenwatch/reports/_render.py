"""Rendering a report: HTML (Jinja2 template), PDF (WeasyPrint, from the HTML: ``_pdf``) and CSV.

CSV is one file per table (``<report>--<table>.csv``), UTF-8, comma-separated, a header row,
``\\n`` line ends, floats with exactly six decimals (``%.6f``), missing values as empty cells,
booleans as ``true``/``false``, times as ISO 8601 with their offset. Nothing in a CSV depends
on when it was made, so the same data and configuration give byte-identical files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from jinja2.bccache import Bucket
from markupsafe import Markup

from greenwatch.reports._build import Report
from greenwatch.reports._charts import charts
from greenwatch.reports._names import TIMEZONE

TABLES: dict[str, str] = {
    "summary": "Executive summary",
    "hubs": "Hubs",
    "sites": "Sites",
    "ranking": "Ranking by PUE",
    "changes": "Largest changes against the previous period",
    "coverage": "Data coverage per site",
    "gaps": "Gaps in facility and IT energy",
    "trend": "PUE trend",
    "compute": "Computing power",
    "compute_share": "Share of computing power in the west",
    "compute_findings": "Device identification findings",
    "compute_verification": "Compute pools not verified",
}


def csv_cell(value: Any) -> str:
    """One CSV cell by the fixed rules of this module."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        text = f"{float(value):.6f}"
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def table_csv(table: pd.DataFrame) -> bytes:
    """A table as CSV bytes (see the module docstring for the format)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(table.columns))
    for record in table.itertuples(index=False, name=None):
        writer.writerow([csv_cell(v) for v in record])
    return buffer.getvalue().encode("utf-8")


def render_csv(report: Report) -> dict[str, bytes]:
    """File name → CSV bytes, one file per table, in report order."""
    return {f"{report.name}--{name}.csv": table_csv(t) for name, t in report.tables.items()}


def _num(value: Any, digits: int = 3, scale: float = 1.0) -> str:
    if value is None or value is pd.NA or not math.isfinite(float(value)):
        return "—"
    return f"{float(value) / scale:,.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or value is pd.NA or not math.isfinite(float(value)):
        return "—"
    return f"{float(value) * 100:.{digits}f}\u00a0%"  # no break between number and sign


def _flops(pflops: Any) -> str:
    """Computing power given in PFLOPS, in PFLOPS or (from 1,000 PFLOPS) EFLOPS."""
    if pflops is None or pflops is pd.NA or not math.isfinite(float(pflops)):
        return "—"
    value = float(pflops)
    if abs(value) >= 1000:
        return f"{value / 1000:,.2f}\u00a0EFLOPS"
    return f"{value:,.{1 if abs(value) >= 10 else 3}f}\u00a0PFLOPS"


def _text(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return str(value)


class KeptBytecode(FileSystemBytecodeCache):
    """Compiled templates kept on disk for the next process (Jinja's cache, by default in a
    directory of this user's only, under the system's temporary directory): a new ``greenwatch
    report`` compiled the report's template in 0.08 s, and loads it in 0.001 s. A cache file
    that cannot be read or written is only not used: the template is compiled as without one.
    """

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # unreadable, cut short, not a pickle or not code: compile it anew
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def kept_bytecode(directory: str | None = None) -> KeptBytecode | None:
    """The bytecode cache in ``directory`` (None: Jinja's default), or None if there is no
    directory to be had (none can be made, or it is not safely this user's)."""
    try:
        return KeptBytecode(directory)
    except (OSError, RuntimeError):
        return None


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("greenwatch.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=kept_bytecode(),
    )
    env.filters.update(num=_num, pct=_pct, text=_text, flops=_flops)
    return env


_ENV = _environment()
_CSS = (resources.files("greenwatch.reports") / "templates" / "report.css").read_text("utf-8")


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.itertuples(index=False)]


def render_html(report: Report, generated_at: pd.Timestamp) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG charts)."""
    css = _CSS
    tables = {name: _records(t) for name, t in report.tables.items()}
    ranking = tables["ranking"]
    return _ENV.get_template("report.html.j2").render(
        report=report,
        css=Markup(css),
        summary={row["figure"]: row for row in tables["summary"]},
        tables=tables,
        best=ranking[:10],
        worst=ranking[-10:][::-1] if len(ranking) > 10 else [],
        charts={k: Markup(v) for k, v in charts(report).items()},
        generated=generated_at.tz_convert(TIMEZONE).strftime("%Y-%m-%d %H:%M %z"),
        method=report.methodology,
        timezone=TIMEZONE,
        table_titles=TABLES,
        max_gaps=40,
        incomplete=[r for r in tables["coverage"] if not _complete(r)],
        complete=[r["site"] for r in tables["coverage"] if _complete(r)],
        factor_groups=_factor_groups(report),
        compute=_compute_view(report, tables),
    )


def _compute_view(report: Report, tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The computing-power section's rows: the scope's per class, then its hubs' (national;
    its sites' are in the CSV) or its sites' (hub), the west share by class, and unverified
    pools split into failed or stale and never verified."""
    rows = tables["compute"]
    unverified = tables["compute_verification"]
    level = report.scope.level
    return {
        "scope": [r for r in rows if r["level"] == level],
        "hubs": [r for r in rows if r["level"] == "hub" and level == "national"],
        "sites": [r for r in rows if r["level"] == "site" and level == "hub"],
        "west": {r["class"]: r for r in tables.get("compute_share", [])},
        "checked": [r for r in unverified if r["verification"] != "never"],
        "never": [r for r in unverified if r["verification"] == "never"],
        "max_age_days": report.config.max_verification_age.days,
    }


def _complete(row: dict[str, Any]) -> bool:
    """A site with every total fully covered, no gap hours, and counted in the figures."""
    totals = ("facility", "it", "cooling", "water", "renewable", "co2")
    return (
        all(float(row[f"{t}_coverage"]) >= 1.0 - 1e-9 for t in totals)
        and row["facility_gap_hours"] == 0
        and row["it_gap_hours"] == 0
        and bool(row["included"])
    )


def _factor_groups(report: Report) -> list[tuple[int, str, list[tuple[str, float]]]]:
    """Emission factors grouped by (year, source), provinces listed in each."""
    groups: dict[tuple[int, str], list[tuple[str, float]]] = {}
    for year, source, province, factor in report.methodology.factors:
        groups.setdefault((year, source), []).append((province, factor))
    return [(y, s, rows) for (y, s), rows in groups.items()]


def summary_lines(report: Report) -> list[tuple[str, str]]:
    """The executive summary as (label, text) pairs, for e-mail."""
    s = report.tables["summary"].set_index("figure")

    def v(figure: str, column: str = "value") -> Any:
        return s.at[figure, column]

    what = "National PUE" if report.scope.level == "national" else f"PUE of {report.scope}"
    return [
        ("Period", f"{report.period.label}, {report.period.interval()} ({TIMEZONE})"),
        (
            what,
            f"{_num(v('pue'))} (target {_text(v('pue', 'comparison'))} "
            f"{_num(v('pue', 'target'), 2)}: {_text(v('pue', 'verdict'))}), "
            f"coverage {_pct(v('pue', 'coverage'), 2)}, "
            f"rests on {_text(v('pue', 'sites'))} of {_text(v('pue', 'expected_sites'))} sites "
            f"({_pct(v('pue', 'capacity_share'), 0)} of IT capacity); "
            f"previous {report.previous.label}: {_num(v('pue_previous'))}",
        ),
        (
            "Hub sites meeting their PUE target",
            f"{_pct(v('hub_sites_meeting_pue_target'), 0)} "
            f"({str(v('hub_sites_meeting_pue_target', 'note')).split(';')[0]}; "
            f"east {_pct(v('hub_sites_meeting_pue_target_east'), 0)}, "
            f"west {_pct(v('hub_sites_meeting_pue_target_west'), 0)})",
        ),
        (
            "Green share of hub sites",
            f"{_pct(v('hub_green_share'))} "
            f"(target >= 80 %: {_text(v('hub_green_share', 'verdict'))})",
        ),
        (
            "CO2",
            f"location-based {_num(v('co2_location'), 0, 1000)} t, "
            f"market-based {_num(v('co2_market'), 0, 1000)} t",
        ),
        (
            "Energy",
            f"IT {_num(v('it_energy'), 0, 1000)} MWh, "
            f"facility {_num(v('facility_energy'), 0, 1000)} MWh",
        ),
    ]


def summary_text(report: Report, generated: str) -> str:
    """Plain-text summary for the body of the report e-mail."""
    lines = [report.title, ""]
    lines += [f"{label}: {text}" for label, text in summary_lines(report)]
    lines += [
        "",
        f"The full report is attached as PDF ({report.name}.pdf).",
        f"Generated {generated}.",
    ]
    return "\n".join(lines) + "\n"


def summary_html(report: Report, generated: str) -> str:
    """HTML summary for the body of the report e-mail."""
    return _ENV.get_template("mail.html.j2").render(
        report=report, rows=summary_lines(report), generated=generated
    )
