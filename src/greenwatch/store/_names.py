"""The store's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

import re

RAW_RETENTION_DAYS = 400
ROLLUP_RETENTION_DAYS = 3653  # ten years
# The bound on the store's memory (DuckDB's block cache and working memory) a server sets:
# blocks read stay cached up to it, so without a bound RSS grows with the data read, up to
# DuckDB's own default of 80 % of the machine's memory. Larger operations spill to disk.
STORE_MEMORY_LIMIT = "1GiB"

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?))?B", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size such as ``512MiB``, ``4GB`` or ``1000000B`` (KB..TB decimal, KiB..TiB
    binary); ValueError naming the text otherwise."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a size such as 512MiB or 4GB")
    number, prefix, binary = found.groups()
    power = "KMGT".index(prefix.upper()) + 1 if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)
