"""``greenwatch report``'s PDF, rendered in a child process started before the command loads.

The command would load WeasyPrint, Pango and the fonts (about 0.5 s of CPU) only after its own
imports and the report's computation. :class:`PdfChild` is started first, before pandas and the
store load: the child loads WeasyPrint on the other core while this process imports and
computes, then renders the HTML it is sent. The child is only a head start: if it cannot be
started, fails or dies, the PDF is rendered in this process as it would have been without it,
so the result, any error, its one sentence and the exit status are the same as without a
child. This module imports nothing heavy.
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

# Laid out by the child while it waits for the report: loads the fonts into the font map the
# report's render uses and shapes table text and an SVG label (about 0.07 s of a first render).
_WARM_UP = (
    '<html><head><style>html { font-family: "DejaVu Sans", "Liberation Sans", Arial, '
    "sans-serif; font-size: 9pt; } td { font-size: 7.3pt; }</style></head><body><h1>PUE</h1>"
    "<table><tr><th>site</th><td>1,234.5\u00a0%</td></tr></table>"
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="12"><text x="1" y="9" '
    'font-size="9">1.25</text></svg></body></html>'
)
# The child: this process's import path (so the same greenwatch), render_pdf from the reports
# face (which loads its light _pdf module first, not pandas), a warm-up, then one PDF from
# standard input to standard output. Any failure: status 1 and nothing written (this process
# then renders the PDF itself); no input (no PDF was needed, or the parent went away): status 0.
_CHILD = """
import os, sys
sys.path[:] = {path!r}
try:
    from greenwatch.reports import render_pdf
    render_pdf({warm_up!r})
    html = sys.stdin.buffer.read()
    if html:
        import gc
        gc.disable()  # the process ends after one render: nothing to collect
        sys.stdout.buffer.write(render_pdf(html.decode("utf-8")))
        sys.stdout.buffer.flush()
except BaseException:
    os._exit(1)
os._exit(0)  # no teardown of WeasyPrint's objects
"""


class PdfChild:
    """A child process rendering one PDF; started at once, loading WeasyPrint meanwhile.

    Use it as a context manager (leaving it ends a child that was not used) and call
    :meth:`render` at most once.
    """

    def __init__(self) -> None:
        code = _CHILD.format(path=sys.path, warm_up=_WARM_UP)
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
        from greenwatch.reports import render_pdf  # noqa: PLC0415 - only without a child's PDF

        return render_pdf(html)

    def close(self) -> None:
        """End the child if :meth:`render` did not use it."""
        child, self._child = self._child, None
        if child is not None:
            _end(child)

    def __enter__(self) -> PdfChild:
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
