"""What every command module shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("greenwatch-data")
EXIT_BAD_INPUT = 2
Subparsers = Any  # argparse's sub-parser action type is private


def say(text: str) -> None:
    """Print a line for the user, flushed at once (progress of long commands)."""
    print(text, flush=True)
