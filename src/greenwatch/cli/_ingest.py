"""Ingest-side commands: ``token create|list``, ``export``, ``agent``, ``gpu-check``."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import TextIO

import httpx
import pandas as pd

from greenwatch.agent import (
    BACKENDS,
    DEFAULT_SIZES,
    PRECISIONS,
    Agent,
    GpuCheckResult,
    VerificationPostError,
    check_gpus,
    load_agent_config,
    post_verifications,
    to_verifications,
)
from greenwatch.cli._common import (
    Subparsers,
    data_dir_help,
    default_data_dir,
    open_store,
    period_args,
    say,
    text_table,
)
from greenwatch.ingest import encode_lines
from greenwatch.model import GreenwatchError, parse_time_range
from greenwatch.service import SCOPES, TokenStore, wait_for_stop

TOKEN_ENV = "GREENWATCH_TOKEN"
# gpu-check exit statuses (2, bad input, is every command's)
EXIT_CHECK_FAILED = 1
EXIT_NO_GPU = 3
EXIT_NOT_POSTED = 4


def _cmd_token_create(args: argparse.Namespace) -> int:
    tokens = TokenStore.for_data_dir(args.data_dir)
    token = tokens.create(args.scope, args.name or "", args.site, args.any_site)
    say(token)
    info = tokens.check(token)
    assert info is not None  # just stored
    print(
        f"token for {', '.join(info.scopes)} ({info.binding}) stored hashed in {tokens.path}; "
        "it is shown only now",
        file=sys.stderr,
    )
    return 0


def _cmd_token_list(args: argparse.Namespace) -> int:
    rows = [("id", "name", "scopes", "writes", "created")]
    rows += [
        (i.id, i.name, ",".join(i.scopes), i.binding, i.created)
        for i in TokenStore.for_data_dir(args.data_dir).tokens()
    ]
    say(text_table(rows))
    return 0


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


def _cmd_agent(args: argparse.Namespace) -> int:
    config = load_agent_config(args.config)
    agent = Agent.from_config(config)
    agent.start()
    say(
        f"greenwatch agent: {len(config.targets)} targets → {config.central.url}, "
        f"buffer {config.buffer.path} (Ctrl-C stops)"
    )
    wait_for_stop()
    say("greenwatch agent: stopping (flushing the buffer)…")
    agent.stop()
    say("greenwatch agent: stopped")
    return 0


def _precisions(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [p for p in chosen if p not in PRECISIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a comma-separated list of {', '.join(PRECISIONS)}"
        )
    return chosen


def _devices(text: str) -> tuple[int, ...] | None:
    if text == "all":
        return None
    try:
        return tuple(int(i) for i in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: 'all' or indices like 0,1") from None


def _tflops(flops: float) -> str:
    tflops = flops / 1e12
    return f"{tflops:.1f}" if tflops >= 10 else f"{tflops:.3g}"


def _gpu_table(result: GpuCheckResult) -> str:
    rows = [("device", "name", "precision", "TFLOPS", "runs", "error", "result")]
    rows += [
        (
            str(m.device),
            m.name,
            m.precision,
            _tflops(m.flops),
            str(m.runs),
            f"{m.error:.1e}",
            "ok" if m.passed else "FAILED",
        )
        for m in result.measurements
    ]
    return text_table(rows, right={3, 4})  # TFLOPS and runs are numbers


def _gpu_summary(result: GpuCheckResult) -> str:
    """``gpu-check: 1 GPU, fp16 712.3 TFLOPS, fp64 51.2 TFLOPS (torch 2.4.0, NVIDIA H100 …)``."""
    if result.status == "no_gpu":
        return f"gpu-check: no GPU ({result.reason})"
    devices = result.devices
    count = f"{len(devices)} {result.kind}{'' if len(devices) == 1 else 's'}"
    figures = [f"{p} {_tflops(f)} TFLOPS" for p, f in result.measured_flops.items()]
    names = ", ".join(dict.fromkeys(d["name"] for d in devices))
    lines = [f"gpu-check: {', '.join([count, *figures])} ({result.backend}, {names})"]
    if result.skipped:
        lines.append(f"gpu-check: skipped: {'; '.join(result.skipped)}")
    if result.status != "ok":
        lines.append(f"gpu-check: FAILED: {result.reason}")
    return "\n".join(lines)


def _cmd_gpu_check(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV)
    if args.url:
        needed = {"--site": args.site, "--pool": args.pool, f"--token or ${TOKEN_ENV}": token}
        missing = [flag for flag, value in needed.items() if not value]
        if missing:
            raise GreenwatchError(f"gpu-check --url needs {', '.join(missing)}")
        if args.backend == "numpy":
            raise GreenwatchError(
                "--backend numpy is a CPU sanity run and posts nothing: drop --url"
            )
    result = check_gpus(
        args.backend,
        precisions=args.precision,
        size=args.size,
        seconds=args.seconds,
        devices=args.devices,
    )
    records = to_verifications(result, args.site, args.pool) if args.site and args.pool else []
    note = sys.stderr if args.format == "json" else sys.stdout
    if args.format == "json":
        print(json.dumps({**result.as_dict(), "verifications": records}, indent=2))
    elif result.measurements:
        print(_gpu_table(result))
    print(_gpu_summary(result), file=note, flush=True)
    if result.status == "no_gpu":
        return EXIT_NO_GPU
    if args.url:
        assert token is not None  # checked above, before the check ran
        try:
            posted = post_verifications(records, args.url, token)
        except VerificationPostError as exc:
            print(f"gpu-check: {exc}", file=sys.stderr)
            return EXIT_NOT_POSTED
        print(
            f"gpu-check: {posted} verification records for {args.site}/{args.pool} posted to "
            f"{args.url}",
            file=note,
        )
    return 0 if result.status == "ok" else EXIT_CHECK_FAILED


GPU_CHECK_DESCRIPTION = """\
A short built-in matmul check. For each precision and each GPU: n x n matmuls,
timed after a warm-up; the median run gives the GPU's achieved FLOPS (2 n^3 per
matmul), and sampled entries of the product are checked against a float64
product computed on the CPU. With --url, one verification record per precision
(FLOPS summed over the GPUs tested) goes to POST /api/v1/resources/verifications
for --site and --pool.

Backends: torch, else cupy (optional; neither is a greenwatch dependency).
--backend numpy runs the same method on the CPU as a sanity check; it never posts.
"""
GPU_CHECK_EPILOG = f"""\
exit status:
  0  every measurement passed (and its records were posted, with --url)
  {EXIT_CHECK_FAILED}  a product was wrong or a CUDA error occurred (failed records still posted)
  2  bad arguments or options
  {EXIT_NO_GPU}  no GPU: neither torch nor cupy can use a CUDA device; nothing measured or posted
  {EXIT_NOT_POSTED}  the verification API refused a record or could not be reached
"""


def _add_gpu_check(sub: Subparsers) -> None:
    sizes = ", ".join(f"{p} {n}" for p, n in DEFAULT_SIZES.items())
    gpu = sub.add_parser(
        "gpu-check",
        help="measure achieved TFLOPS per GPU with a short matmul check; post verifications",
        description=GPU_CHECK_DESCRIPTION,
        epilog=GPU_CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gpu.add_argument("--site", help="site id of the compute pool verified")
    gpu.add_argument("--pool", help="pool id (inventory compute pool) verified")
    gpu.add_argument("--url", help="a running greenwatch to post the records to")
    gpu.add_argument("--token", help=f"write token for --url (default: ${TOKEN_ENV})")
    gpu.add_argument(
        "--precision",
        type=_precisions,
        default=("fp16", "fp64"),
        help=f"comma-separated, of {', '.join(PRECISIONS)} (default: fp16,fp64)",
    )
    gpu.add_argument("--size", type=int, help=f"matrix size n (default: {sizes})")
    gpu.add_argument(
        "--seconds", type=float, default=2.0, help="timed seconds per precision and GPU (default 2)"
    )
    gpu.add_argument(
        "--devices", type=_devices, default=None, help="GPU indices like 0,1 (default: all)"
    )
    gpu.add_argument("--backend", choices=BACKENDS, default="auto", help="default: auto")
    gpu.add_argument(
        "--format", choices=["table", "json"], default="table", help="output (default: table)"
    )
    gpu.set_defaults(handler=_cmd_gpu_check)


def add_commands(sub: Subparsers) -> None:
    """Register ``token``, ``export``, ``agent`` and ``gpu-check``."""
    token = sub.add_parser("token", help="create and list API tokens")
    token_sub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = token_sub.add_parser(
        "create",
        help="create an API token (printed once, stored hashed)",
        description="Create an API token with one or more scopes: write (push APIs), read "
        "(read and KPI APIs), admin (everything). A token that writes is bound to the sites "
        "it may write (--site, repeatable): a pushed sample for any other site is refused "
        "with 403 and nothing of that request is stored. A write token for every site needs "
        "an explicit --any-site (an admin token without --site writes any site). The token "
        "is printed once; the data directory's tokens.json keeps only its SHA-256. Clients "
        "send it as 'Authorization: Token <token>' or 'Bearer <token>'.",
    )
    create.add_argument(
        "--scope", action="append", choices=SCOPES, required=True, help="repeat for several"
    )
    create.add_argument("--name", help="a name to recognise the token by")
    create.add_argument(
        "--site",
        action="append",
        default=[],
        help="a site this token may write (repeat for several); with one site, also the site "
        "of pushed samples that carry no site tag",
    )
    create.add_argument(
        "--any-site",
        action="store_true",
        help="let a write token write every site (a central collector, a relay)",
    )
    create.add_argument(
        "--data-dir", type=Path, default=default_data_dir(), help=data_dir_help("token file")
    )
    create.set_defaults(handler=_cmd_token_create)
    listing = token_sub.add_parser(
        "list",
        help="list tokens: id, name, scopes, the sites each may write (no secrets)",
        description="List the data directory's tokens: id, name, scopes, what each may write "
        "('sites=a,b', 'any site', 'no site', '-' for a token without write) and when it was "
        "created. Tokens made before site bindings existed are migrated when first read: one "
        "with a default site is bound to it, one without writes any site.",
    )
    listing.add_argument(
        "--data-dir", type=Path, default=default_data_dir(), help=data_dir_help("token file")
    )
    listing.set_defaults(handler=_cmd_token_list)

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

    agent = sub.add_parser(
        "agent",
        help="run the edge agent: collect, buffer on disk, forward to the central greenwatch",
        description="Poll the configured targets with their collector profiles, keep every "
        "batch in a bounded on-disk buffer (survives restarts; oldest evicted first, counted) "
        "and forward it to the central ingest API with retries and exponential backoff. Batch "
        "ids make a retry after a lost response store nothing twice.",
    )
    agent.add_argument("--config", required=True, help="agent YAML (see greenwatch.agent)")
    agent.set_defaults(handler=_cmd_agent)
    _add_gpu_check(sub)
