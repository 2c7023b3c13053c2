"""Edge commands: ``agent`` (collect, buffer, forward) and ``gpu-check`` (achieved TFLOPS)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from greenwatch.agent import (
    Agent,
    GpuCheckResult,
    VerificationPostError,
    check_gpus,
    load_agent_config,
    post_verifications,
    to_verifications,
)
from greenwatch.cli._args.agent import EXIT_CHECK_FAILED, EXIT_NO_GPU, EXIT_NOT_POSTED
from greenwatch.cli._common import (
    TOKEN_ENV,
    say,
    text_table,
)
from greenwatch.model import GreenwatchError
from greenwatch.service import wait_for_stop


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
