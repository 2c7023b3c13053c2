"""``greenwatch export-kpis``: one KPI snapshot, printed and/or pushed to OTLP and Influx.

``greenwatch serve`` exports continuously (``GET /metrics``, and OTLP/Influx pushes when
configured); this command takes one snapshot from a data directory no server holds open, for a
timer, a backfill of an Influx bucket, or a look at what ``/metrics`` would say. Its options
are those of :mod:`greenwatch.cli._export_args`, which ``serve`` shares.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

from greenwatch.cli._common import open_store, say
from greenwatch.cli._export_args import export_settings
from greenwatch.export import (
    FIGURES,
    ExportSettings,
    ExportStats,
    InfluxExport,
    KpiSnapshot,
    OtlpExport,
    ServiceHealth,
    build_registry,
    exposition,
    snapshot_lines,
    take_snapshot,
)
from greenwatch.inventory import load_inventory
from greenwatch.model import GreenwatchError

EXIT_PUSH_FAILED = 1


def _utc(text: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise GreenwatchError(f"--at: bad time {text!r}: {exc}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _as_json(snapshot: KpiSnapshot) -> str:
    points = [
        {
            "name": FIGURES[p.figure].prom,
            "figure": p.figure,
            "labels": p.label_dict(),
            "value": p.value if math.isfinite(p.value) else None,
            "coverage": p.coverage,
        }
        for p in snapshot.points
    ]
    windows = [
        {"window": w.name, "start": w.start.isoformat(), "end": w.end.isoformat()}
        for w in snapshot.windows
    ]
    body = {"taken_at": snapshot.taken_at.isoformat(), "windows": windows, "points": points}
    return json.dumps(body, indent=2)


def _render(snapshot: KpiSnapshot, fmt: str) -> str:
    if fmt == "json":
        return _as_json(snapshot)
    if fmt == "lp":
        return "\n".join(snapshot_lines(snapshot))
    accept = "application/openmetrics-text" if fmt == "openmetrics" else ""
    registry = build_registry(lambda: snapshot, ServiceHealth, ExportStats())
    body, _ = exposition(registry, accept)
    return body.decode("utf-8").rstrip("\n")


def _push(snapshot: KpiSnapshot, settings: ExportSettings) -> int:
    failed = 0
    if settings.otlp is not None:
        stats = ExportStats()
        OtlpExport(settings.otlp, lambda: snapshot, stats).close()  # one export, at shutdown
        ok = stats.pushes.get(("otlp", "success"), 0) > 0
        say(f"OTLP: {'pushed to' if ok else 'FAILED to push to'} {settings.otlp.endpoint}")
        failed += not ok
    if settings.influx is not None:
        influx = InfluxExport(settings.influx)
        try:
            written = influx.write(snapshot)
        except Exception as exc:  # influxdb-client raises ApiException, urllib3 errors…
            print(
                f"greenwatch: Influx write to {settings.influx.url} failed: {exc}", file=sys.stderr
            )
            failed += 1
        else:
            say(f"Influx: {written} points written to {settings.influx.url}")
        finally:
            influx.close()
    return EXIT_PUSH_FAILED if failed else 0


def _cmd_export_kpis(args: argparse.Namespace) -> int:
    settings = export_settings(args)
    inventory = load_inventory(args.inventory)
    at = _utc(args.at) if args.at else pd.Timestamp.now(tz="UTC")
    store = open_store(args.data_dir)
    try:
        snapshot = take_snapshot(store, inventory, at, settings.windows)
    finally:
        store.close()
    if args.format != "none":
        text = _render(snapshot, args.format)
        if args.out:
            Path(args.out).write_text(text + "\n", encoding="utf-8")
            say(f"{args.out}: {len(snapshot.points)} points at {snapshot.taken_at.isoformat()}")
        else:
            say(text)
    return _push(snapshot, settings)
