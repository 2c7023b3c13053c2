"""``greenwatch export-kpis``: one KPI snapshot, printed and/or pushed to OTLP and Influx.

``greenwatch serve`` exports continuously (``GET /metrics``, and OTLP/Influx pushes when
configured); this command takes one snapshot from a data directory no server holds open, for a
timer, a backfill of an Influx bucket, or a look at what ``/metrics`` would say.
:func:`add_export_args` and :func:`export_settings` give ``serve`` the same options.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd

from greenwatch.cli._common import Subparsers, say
from greenwatch.cli._core import common_args
from greenwatch.export import (
    FIGURES,
    WINDOWS,
    ExportSettings,
    ExportStats,
    InfluxExport,
    InfluxSettings,
    KpiSnapshot,
    OtlpExport,
    OtlpSettings,
    ServiceHealth,
    build_registry,
    exposition,
    snapshot_lines,
    take_snapshot,
)
from greenwatch.inventory import load_inventory
from greenwatch.model import GreenwatchError
from greenwatch.store import DuckDBStore

OTLP_TOKEN_ENV = "GREENWATCH_OTLP_TOKEN"
INFLUX_TOKEN_ENV = "GREENWATCH_INFLUX_TOKEN"
EXIT_PUSH_FAILED = 1


def _secret(path: Path | None, env: str) -> str:
    """A token from a file (first line) or the environment; '' when neither is given."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise GreenwatchError(f"{path}: cannot read token: {exc.strerror}") from None
    return os.environ.get(env, "")


def _utc(text: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise GreenwatchError(f"--at: bad time {text!r}: {exc}") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _windows(texts: list[str] | None) -> dict[str, pd.Timedelta]:
    if not texts:
        return dict(WINDOWS)
    out = {}
    for text in texts:
        try:
            span = pd.Timedelta(text)
        except ValueError:
            raise GreenwatchError(f"--window {text!r}: not a duration (1h, 24h, 7d)") from None
        if span <= pd.Timedelta(0):
            raise GreenwatchError(f"--window {text!r}: must be positive")
        out[text] = span
    return out


def add_export_args(parser: argparse.ArgumentParser, *, service: bool = True) -> None:
    """Options for the KPI windows and the OTLP and Influx pushes (``service``: also the
    snapshot interval and the token on ``/metrics``)."""
    group = parser.add_argument_group("KPI export")
    group.add_argument(
        "--window",
        action="append",
        metavar="SPAN",
        help="trailing KPI window, repeatable (default: 1h and 24h)",
    )
    if service:
        group.add_argument(
            "--kpi-refresh",
            type=float,
            default=60.0,
            metavar="S",
            help="recompute the KPI snapshot every S seconds (default 60)",
        )
        group.add_argument(
            "--metrics-token",
            action="store_true",
            help="GET /metrics needs a token with the read scope (default: open)",
        )
    group.add_argument("--otlp-endpoint", help="push KPIs over OTLP/HTTP to this …/v1/metrics URL")
    group.add_argument(
        "--otlp-token-file",
        type=Path,
        help=f"bearer token for --otlp-endpoint (default: ${OTLP_TOKEN_ENV}, else none)",
    )
    group.add_argument(
        "--influx-url", help="write KPIs to this InfluxDB v2 API (or VictoriaMetrics)"
    )
    group.add_argument(
        "--influx-token-file",
        type=Path,
        help=f"token for --influx-url (default: ${INFLUX_TOKEN_ENV}, else none)",
    )
    group.add_argument(
        "--influx-org", default="greenwatch", help="organisation (default greenwatch)"
    )
    group.add_argument("--influx-bucket", default="greenwatch", help="bucket (default greenwatch)")
    if service:
        group.add_argument(
            "--push-interval",
            type=float,
            default=60.0,
            metavar="S",
            help="push to OTLP and Influx every S seconds (default 60)",
        )


def export_settings(args: argparse.Namespace) -> ExportSettings:
    """:class:`ExportSettings` from the options of :func:`add_export_args`."""
    interval = float(getattr(args, "push_interval", 60.0))
    otlp = None
    if args.otlp_endpoint:
        token = _secret(args.otlp_token_file, OTLP_TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        otlp = OtlpSettings(args.otlp_endpoint, headers, interval_s=interval)
    influx = None
    if args.influx_url:
        token = _secret(args.influx_token_file, INFLUX_TOKEN_ENV)
        influx = InfluxSettings(
            args.influx_url, token, args.influx_org, args.influx_bucket, interval_s=interval
        )
    return ExportSettings(
        refresh_s=getattr(args, "kpi_refresh", 60.0),
        windows=_windows(args.window),
        metrics_token=getattr(args, "metrics_token", False),
        otlp=otlp,
        influx=influx,
    )


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
    path = args.data_dir / "greenwatch.duckdb"
    if not path.exists():
        raise GreenwatchError(f"no store at {path} (run greenwatch demo or serve first)")
    store = DuckDBStore(path)
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


def add_commands(sub: Subparsers) -> None:
    """Register ``export-kpis``."""
    cmd = sub.add_parser(
        "export-kpis",
        help="compute the exported KPIs once; print them and/or push them to OTLP, Influx",
        description="Take one KPI snapshot (what GET /metrics exposes: site, hub, region and "
        "national PUE, pPUE, WUE, CUE, carbon, green share, occupancy, link utilisation, "
        "each with its coverage) over trailing windows ending at --at, print it and push it "
        "to an OTLP/HTTP endpoint and/or an InfluxDB v2 write API. Needs a data directory no "
        "running server holds open; greenwatch serve exports continuously by itself. "
        "Exit 1 when a push failed.",
    )
    cmd.add_argument("--at", help="end of the windows, ISO time (default: now, to the minute)")
    cmd.add_argument(
        "--format",
        choices=["prometheus", "openmetrics", "json", "lp", "none"],
        default="prometheus",
        help="what to print (default: Prometheus text; lp: Influx line protocol)",
    )
    cmd.add_argument("--out", help="write the printout to this file instead of standard output")
    add_export_args(cmd, service=False)
    common_args(cmd)
    cmd.set_defaults(handler=_cmd_export_kpis)
