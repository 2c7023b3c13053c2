"""One exported value: what a snapshot holds and every exporter reads."""

from __future__ import annotations

from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class KpiPoint:
    """One exported value: a figure of :data:`~greenwatch.export.FIGURES`, labels, value.

    ``value`` is NaN when nothing could be computed (exporters then send only the coverage);
    ``coverage`` (0-1) is None for figures without one.
    """

    figure: str
    labels: Labels
    value: float
    coverage: float | None = None

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)
