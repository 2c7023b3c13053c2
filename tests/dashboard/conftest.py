"""One headless Chromium per browser-test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.browser import Chromium, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with chromium() as shared:
        yield shared
