"""The PDF of a report's HTML (WeasyPrint), in this process or in a child process started ahead.

A new process that makes one report (``greenwatch report``) would load WeasyPrint, Pango and
the fonts (about 0.5 s) only after computing the report. :class:`PdfProcess` starts a child that
loads them on the other core while the report is computed, then renders the HTML it is sent.
The child is only a head start: if it cannot be started, fails or dies, the PDF is rendered in
this process as it would have been without it, so the result, any error and its message are
the same as without a child. This module imports nothing heavy: the child imports it too.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

# Laid out by the child while it waits for the report: loads the fonts and Pango's shaping of
# table text and SVG labels (about 0.07 s of the first render in a new process).
_WARM_UP = (
    '<html><head><style>html { font-family: "DejaVu Sans", "Liberation Sans", Arial, '
    "sans-serif; font-size: 9pt; } td { font-size: 7.3pt; }</style></head><body><h1>PUE</h1>"
    "<table><tr><th>site</th><td>1,234.5\u00a0%</td></tr></table>"
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="12"><text x="1" y="9" '
    'font-size="9">1.25</text></svg></body></html>'
)

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


class PdfProcess:
    """A child process rendering one PDF; started at once, loading WeasyPrint meanwhile.

    Use it as a context manager (leaving it ends a child that was not used) and call
    :meth:`render` at most once.
    """

    def __init__(self) -> None:
        # The child imports from this process's path, so it runs this very greenwatch.
        code = f"import sys; sys.path[:] = {sys.path!r}; from {__name__} import _serve; _serve()"
        self._child: subprocess.Popen[bytes] | None
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError:  # no process to be had: render here
            self._child = None

    def render(self, html: str) -> bytes:
        """The PDF of ``html``: the child's, or, if it has none, rendered in this process."""
        child, self._child = self._child, None
        if child is not None:
            try:
                pdf, messages = child.communicate(html.encode("utf-8"))
            except OSError:  # it closed its input: gone before reading the report
                _end(child)
            else:
                if child.returncode == 0 and pdf.startswith(b"%PDF"):
                    if messages:  # what the libraries print (fontconfig), as they would here
                        sys.stderr.buffer.write(messages)
                        sys.stderr.flush()
                    return pdf
        return render_pdf(html)

    def close(self) -> None:
        """End the child if :meth:`render` did not use it."""
        child, self._child = self._child, None
        if child is not None:
            _end(child)

    def __enter__(self) -> PdfProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _end(child: subprocess.Popen[bytes]) -> None:
    child.kill()
    child.communicate()


def _serve() -> None:
    """The child: load WeasyPrint, warm it up, render the HTML read from standard input to
    standard output. Any failure ends it with status 1 and nothing written (the parent then
    renders the PDF itself); no input (the parent needed no PDF, or went away) ends it with 0."""
    try:
        from weasyprint import HTML  # noqa: PLC0415

        HTML(string=_WARM_UP).write_pdf(font_config=_font_config())  # fonts into its font map
        html = sys.stdin.buffer.read()
        if html:
            gc.disable()  # the process ends after one render: no collection needed
            pdf = HTML(string=html.decode("utf-8")).write_pdf(font_config=_font_config())
            sys.stdout.buffer.write(pdf)
            sys.stdout.buffer.flush()
    except BaseException:  # the parent renders the PDF itself and reports any error
        os._exit(1)
    os._exit(0)  # skip the interpreter's teardown of WeasyPrint's objects
