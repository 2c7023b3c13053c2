"""The arguments of agent; handlers load when the command runs."""

from __future__ import annotations

import argparse

from greenwatch.agent import BACKENDS, DEFAULT_SIZES, PRECISIONS
from greenwatch.cli._args.shared import lazy
from greenwatch.cli._common import TOKEN_ENV, Subparsers

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
    agent.set_defaults(handler=lazy("_agent", "_cmd_agent"))
    _add_gpu_check(sub)


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
    gpu.set_defaults(handler=lazy("_agent", "_cmd_gpu_check"))
