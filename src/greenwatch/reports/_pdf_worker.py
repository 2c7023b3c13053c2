"""PDFs rendered in a child process: :class:`PdfWorker`.

A render in the process that computed the report pays twice for that process's size: WeasyPrint
allocates some 10^5 objects in reference cycles, and freeing them takes a collection that also
walks what the process holds (data frames, the store); and its layout runs slower beside a large
heap. A worker renders in a small process of its own, answers, and only then frees the render's
objects, while its parent goes on. ``greenwatch report`` starts one before it loads pandas and
the store, so WeasyPrint loads on the other core while the command imports and computes; a
service starts one at its first report and lets it end after :data:`IDLE_S` without one.

A worker is only ever a head start: if it cannot be started, fails or dies, the PDF is rendered
in the calling process (:func:`render_pdf`), so the result, any error and its message are the
same as without one. This module imports nothing heavy.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import IO

IDLE_S = 600.0  # a worker with no PDF to render for this long ends (a new one starts on demand)
_LENGTH = 8  # bytes of the big-endian length before each message
_RENDERED, _FAILED = b"0", b"1"  # a reply's first byte

# Laid out by a new worker before it waits for a report: loads the fonts into the font map the
# report's render uses and shapes table text and an SVG label (about 0.07 s of a first render).
_WARM_UP = (
    '<html><head><style>html { font-family: "DejaVu Sans", "Liberation Sans", Arial, '
    "sans-serif; font-size: 9pt; } td { font-size: 7.3pt; }</style></head><body><h1>PUE</h1>"
    "<table><tr><th>site</th><td>1,234.5\u00a0%</td></tr></table>"
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="12"><text x="1" y="9" '
    'font-size="9">1.25</text></svg></body></html>'
)
# The worker: this process's import path (so the same greenwatch), render_pdf from the light
# _pdf module (not pandas), a warm-up, then, until its input ends or stays idle for {idle} s:
# a length-prefixed HTML in, a status byte and a length-prefixed PDF out, the render's objects
# freed after the answer. A failed render answers _FAILED (the caller renders it itself, with
# the error it raises there); a failed start exits 1 before reading anything.
_CHILD = """
import gc, os, select, sys
sys.path[:] = {path!r}
try:
    from greenwatch.reports._pdf import render_pdf
    render_pdf({warm_up!r})
except BaseException:
    os._exit(1)
gc.disable()  # the render's cycles are freed after its answer, not during the render

def exactly(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            os._exit(0)  # input ended: the caller is done (or gone)
        data += chunk
    return data

def send(data):
    while data:
        data = data[os.write(1, data):]

try:
    while select.select([0], [], [], {idle})[0]:
        html = exactly(int.from_bytes(exactly({length}), "big"))
        try:
            reply = {rendered!r} + render_pdf(html.decode("utf-8", "surrogatepass"))
        except Exception:
            reply = {failed!r}
        send(len(reply).to_bytes({length}, "big") + reply)
        del html, reply
        gc.collect()
except BaseException:  # the caller went away mid-answer
    os._exit(1)
os._exit(0)  # idle: the next PDF starts a new worker
"""


class PdfWorker:
    """A child process rendering PDFs, one at a time: started at once if ``start`` (WeasyPrint
    loads there meanwhile), else at the first render, and again on demand once it has ended
    (idle for ``idle_s``, or failed).

    Thread-safe (renders queue for the one child). :meth:`close` ends the child (with
    :func:`contextlib.closing` as a block).
    """

    def __init__(self, *, start: bool = True, idle_s: float = IDLE_S) -> None:
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = self._start() if start else None

    def _start(self) -> subprocess.Popen[bytes] | None:
        code = _CHILD.format(
            path=sys.path,
            warm_up=_WARM_UP,
            idle=self._idle_s,
            length=_LENGTH,
            rendered=_RENDERED,
            failed=_FAILED,
        )
        try:
            return subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,  # what the libraries print (fontconfig) goes where it would here
            )
        except OSError:  # no process to be had: render here
            return None

    def render(self, html: str) -> bytes:
        """The PDF of ``html``: the worker's, or, if it has none, rendered in this process."""
        with self._lock:
            pdf = self._ask(html.encode("utf-8", "surrogatepass"))
        if pdf is not None:
            return pdf
        from greenwatch.reports._pdf import render_pdf  # noqa: PLC0415 - only without the worker's

        return render_pdf(html)

    def _ask(self, html: bytes) -> bytes | None:
        """The worker's PDF of ``html``, or None (it could not start, failed or died; ended)."""
        child = self._child
        if child is None or child.poll() is not None:  # never started, or ended: once more
            if child is not None:
                _end(child)
            child = self._child = self._start()
            if child is None:
                return None
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            child.stdin.write(len(html).to_bytes(_LENGTH, "big") + html)
            child.stdin.flush()
            size = int.from_bytes(_read(child.stdout, _LENGTH), "big")
            reply = _read(child.stdout, size)
        except OSError:  # it went away: closed its input, or ended mid-answer
            reply = b""
        if reply[:1] == _RENDERED and reply[1:5] == b"%PDF":
            return reply[1:]
        if reply[:1] == _FAILED:  # this HTML failed there: it fails here, with its message
            return None
        self._child = None  # failed or gone: end it; the next render starts another
        _end(child)
        return None

    def close(self) -> None:
        """End the worker (a render still queued starts another)."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            _end(child)


def _read(stream: IO[bytes], n: int) -> bytes:
    """``n`` bytes of a child's output; OSError if it ends first."""
    data = stream.read(n)
    if len(data) < n:
        raise OSError("the PDF worker ended mid-answer")
    return data


def _end(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    child.communicate()
