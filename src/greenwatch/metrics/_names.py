"""The metrics' light names: what the command line offers before anything is loaded."""

from __future__ import annotations

DEFAULT_MIN_COVERAGE = 0.95


# A group figure resting on less of its scope's IT capacity is shown but not a verdict.
DEFAULT_MIN_SHARE = 0.9
