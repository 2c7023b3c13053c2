"""The PDF of a report's HTML (WeasyPrint).

This module imports nothing heavy (WeasyPrint when a PDF is rendered): the PDF worker
(``_pdf_worker``) takes :func:`render_pdf` from it without loading pandas.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_FONTS = threading.local()  # see _font_config


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off for the block, then one young-generation collection.

    WeasyPrint allocates some 10^5 objects in reference cycles (boxes, styles) per report:
    with the collector on, each generation-2 pass over them also walks every object the
    process holds (data frames, the store), about 15 % of a PDF's time in a service or the
    benchmark. Reference counting still frees the rest, and the one collection at the end
    frees the cycles, so the peak memory of a render stays about the same.
    """
    if not gc.isenabled():  # someone else's pause: leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def render_pdf(html: str) -> bytes:
    """A4 PDF of the report HTML (page numbers, header and footer come from its CSS)."""
    # Imported here: loading WeasyPrint and Pango takes ~0.5 s, which the service and the
    # HTML- and CSV-only paths need not pay.
    from weasyprint import HTML  # type: ignore[import-untyped]  # noqa: PLC0415

    with _cyclic_gc_paused():
        pdf = HTML(string=html).write_pdf(font_config=_font_config())
    assert pdf is not None
    return bytes(pdf)


def _font_config() -> Any:  # a FontConfiguration (WeasyPrint has no types)
    """This thread's WeasyPrint font configuration, made on its first render and kept.

    WeasyPrint makes a new one (a new Pango font map, fonts loaded and shaped anew) for every
    document it is not given one; kept, a render takes about 0.05-0.07 s less, with the same
    bytes. One per thread: a Pango font map is not to be used by two threads at once."""
    config = getattr(_FONTS, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]  # noqa: PLC0415

        config = _FONTS.config = FontConfiguration()
    return config
