"""Reading a rendered PDF back with poppler: its page count, a page's text, a page's image."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image


def pdf_page_text(pdftotext: str, pdf: Path, page: int) -> str:
    """Text of page ``page`` (1-based) of ``pdf``, layout kept."""
    out = subprocess.run(
        [pdftotext, "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def pdf_info(pdfinfo: str, pdf: Path) -> tuple[str, int]:
    """pdfinfo's report and the number of pages."""
    info = subprocess.run([pdfinfo, str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    return info, pages


def page_image(pdftoppm: str, pdf: Path, page: int, folder: Path) -> Image.Image:
    """Page ``page`` at 60 dpi, in grey."""
    prefix = folder / f"page{page}"
    subprocess.run(
        [pdftoppm, "-png", "-r", "60", "-f", str(page), "-l", str(page), str(pdf), str(prefix)],
        check=True,
    )
    (image,) = folder.glob(f"page{page}-*.png")
    return Image.open(image).convert("L")


def dark_share(grey: Image.Image) -> float:
    """Share of a grey page's pixels dark enough to be ink."""
    return sum(grey.histogram()[:160]) / (grey.size[0] * grey.size[1])
