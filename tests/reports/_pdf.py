"""Reading a rendered PDF back: one page's text as pdftotext lays it out."""

from __future__ import annotations

import subprocess
from pathlib import Path


def pdf_page_text(pdftotext: str, pdf: Path, page: int) -> str:
    """Text of page ``page`` (1-based) of ``pdf``, layout kept."""
    out = subprocess.run(
        [pdftotext, "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout
