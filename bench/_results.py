"""The one convention between a benchmark and ``bench/run_all.py``: RESULT lines on stdout.

A benchmark prints its key figures, besides whatever it prints for people, as::

    RESULT|figure|value|unit|peer|peer_value|ratio

``figure`` names what was measured (``ingest rate``), ``value`` is greenwatch's number in
``unit``, ``peer`` the tool measured in the same run on the same data (empty if none) with its
number, and ``ratio`` how many times better greenwatch is (peer / value for times and memory,
value / peer for rates: > 1 means greenwatch wins). Empty fields are allowed.
"""

from __future__ import annotations

SEP = "|"


def result(
    figure: str,
    value: float,
    unit: str,
    peer: str = "",
    peer_value: float | None = None,
    *,
    higher_is_better: bool = False,
) -> None:
    """Print one RESULT line; the ratio is computed so that > 1 means greenwatch is better."""
    ratio = ""
    if peer_value is not None and value and peer_value:
        ratio = f"{(value / peer_value) if higher_is_better else (peer_value / value):.2f}"
    peer_text = "" if peer_value is None else f"{peer_value:.6g}"
    fields = ["RESULT", figure, f"{value:.6g}", unit, peer, peer_text, ratio]
    print(SEP.join(f.replace(SEP, "/") for f in fields), flush=True)
