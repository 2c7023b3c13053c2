"""``greenwatch export``: raw samples as line protocol or CSV, from a store or a running server."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from greenwatch.cli._common import (
    open_store,
)
from greenwatch.cli._remote import ask, find_server
from greenwatch.ingest import encode_lines
from greenwatch.model import GreenwatchError, parse_time_range
from greenwatch.service import LocalServer


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
    server: LocalServer, args: argparse.Namespace, start: pd.Timestamp, end: pd.Timestamp
) -> list[pd.DataFrame]:
    metrics = args.metric
    if not metrics:
        listed = ask(server, "GET", "/api/v1/series").json()["data"]
        metrics = sorted({row["metric"] for row in listed})
    frames = []
    for metric in metrics:
        params: list[tuple[str, str]] = [
            ("metric", metric),
            ("start", start.isoformat()),
            ("end", end.isoformat()),
            ("format", "csv"),
        ]
        for name, value in _labels(args.label).items():
            params += [(name, v) for v in ([value] if isinstance(value, str) else value)]
        answer = ask(server, "GET", "/api/v1/query", params=params)
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
    server = find_server(args)
    frames = (
        _frames_local(args, start, end)
        if server is None
        else _frames_remote(server, args, start, end)
    )
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
