"""Edge commands: ``agent`` (collect, buffer, forward) and ``gpu-check`` (achieved TFLOPS)."""

from __future__ import annotations

import argparse
import json
import os
import sys

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
    TOKEN_ENV,
    Subparsers,
    say,
    text_table,
)
from greenwatch.model import GreenwatchError
from greenwatch.service import wait_for_stop

# gpu-check exit statuses (2, bad input, is every command's)
EXIT_CHECK_FAILED = 1
EXIT_NO_GPU = 3
EXIT_NOT_POSTED = 4


def add_commands(sub: Subparsers) -> None:
    """Register ``agent`` and ``gpu-check``."""
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
