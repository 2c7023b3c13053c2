"""``greenwatch export``: raw samples as line protocol or CSV, from a store or a running server."""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path
from typing import TextIO

import httpx
import pandas as pd

from greenwatch.cli._common import (
    TOKEN_ENV,
    Subparsers,
    data_dir_help,
    default_data_dir,
    open_store,
    period_args,
)
from greenwatch.ingest import encode_lines
from greenwatch.model import GreenwatchError, parse_time_range


def add_commands(sub: Subparsers) -> None:
    """Register ``export``."""
    export = sub.add_parser(
        "export",
        help="export raw samples as line protocol or CSV",
        description="Export raw samples in [start, end) from the data directory's store, or "
        "from a running greenwatch (--url, with a read token). Line protocol is what "
        "POST /api/v2/write takes back (and InfluxDB/VictoriaMetrics import); CSV has columns "
        "ts, metric, value, site and the labels.",
    )
    export.add_argument("--format", choices=["lp", "csv"], default="lp")
    export.add_argument("--metric", action="append", help="repeat for several (default: all)")
    export.add_argument("--label", action="append", default=[], help="NAME=VALUE filter")
    period_args(export)
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument("--data-dir", type=Path, default=default_data_dir(), help=data_dir_help())
    export.add_argument("--url", help="a running greenwatch to read from instead")
    export.add_argument("--token", help=f"read token for --url (default: ${TOKEN_ENV})")
    export.set_defaults(handler=_cmd_export)


def _labels(pairs: list[str]) -> dict[str, str | list[str]]:
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise GreenwatchError(f"--label takes NAME=VALUE, not {pair!r}")
        out.setdefault(name, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def _frames_local(
    args: argparse.Namespace, start: pd.Timestamp, end: pd.Timestamp
) -> list[pd.DataFrame]:
    store = open_store(args.data_dir)
    try:
        metrics = args.metric or sorted(set(store.series()["metric"]))
        labels = _labels(args.label) or None
        return [store.query(m, start, end, labels=labels).assign(metric=m) for m in metrics]
    finally:
        store.close()


def _frames_remote(
    args: argparse.Namespace, start: pd.Timestamp, end: pd.Timestamp
) -> list[pd.DataFrame]:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise GreenwatchError(f"--url needs --token or ${TOKEN_ENV} (a read token)")
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=300) as client:
        metrics = args.metric
        if not metrics:
            answer = client.get("/api/v1/series")
            answer.raise_for_status()
            metrics = sorted({row["metric"] for row in answer.json()["data"]})
        frames = []
        for metric in metrics:
            params: list[tuple[str, str | int | float | bool | None]] = [
                ("metric", metric),
                ("start", start.isoformat()),
                ("end", end.isoformat()),
                ("format", "csv"),
            ]
            for name, value in _labels(args.label).items():
                params += [(name, v) for v in ([value] if isinstance(value, str) else value)]
            answer = client.get("/api/v1/query", params=params)
            if answer.status_code != 200:
                raise GreenwatchError(f"{args.url}: HTTP {answer.status_code}: {answer.text}")
            frame = pd.read_csv(io.StringIO(answer.text), dtype={"value": "float64"})
            if not frame.empty:
                frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
                frames.append(frame)
        return frames


def _write_frames(frames: list[pd.DataFrame], fmt: str, out: TextIO) -> int:
    rows = 0
    header = True
    for raw in frames:
        if raw.empty:
            continue
        labels = sorted(c for c in raw.columns if c not in ("ts", "metric", "value", "site"))
        frame = raw[["ts", "metric", "value", "site", *labels]]
        frame = frame.astype(dict.fromkeys(["site", *labels], object))
        frame = frame.where(frame.notna(), None)
        if fmt == "lp":
            lines = encode_lines(frame)
            out.write("\n".join(lines) + "\n")
        else:
            out.write(_csv(frame, header))
            header = False
        rows += len(frame)
    return rows


def _csv(frame: pd.DataFrame, header: bool) -> str:
    text = frame.assign(ts=[t.isoformat().replace("+00:00", "Z") for t in frame["ts"]])
    return text.to_csv(index=False, header=header)


def _cmd_export(args: argparse.Namespace) -> int:
    start, end = parse_time_range(args.start, args.end, pd.Timestamp.now(tz="UTC"))
    frames = _frames_remote(args, start, end) if args.url else _frames_local(args, start, end)
    if args.format == "csv" and len({tuple(f.columns) for f in frames if not f.empty}) > 1:
        # One CSV, one header: metrics with different labels share the union of columns.
        frames = [pd.concat(frames, ignore_index=True)]
    if args.out:
        with Path(args.out).open("w", encoding="utf-8") as out:
            rows = _write_frames(frames, args.format, out)
        print(f"exported {rows} samples to {args.out}", file=sys.stderr)
    else:
        rows = _write_frames(frames, args.format, sys.stdout)
    return 0
