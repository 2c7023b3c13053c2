"""The service's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

SCOPES = ("write", "read", "admin")
