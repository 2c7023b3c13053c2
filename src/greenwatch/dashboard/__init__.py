"""The Dash operations dashboard (reads through query and store; nothing imports it)."""

from greenwatch.dashboard._app import create_app, national_map

__all__ = ["create_app", "national_map"]
