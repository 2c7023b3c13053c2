"""Where shipped data (collector profiles, dashboards) lives, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path


def shipped_dir(kind: str) -> Path:
    """Directory of a shipped data kind (``collectors`` or ``dashboards``).

    An installed wheel carries them as ``greenwatch/_data/<kind>``; a source checkout keeps them
    at the top level of the repository (DESIGN.md layout), which an editable install reads.
    """
    package = Path(__file__).resolve().parents[1]
    installed = package / "_data" / kind
    if installed.is_dir():
        return installed
    return package.parents[1] / kind
