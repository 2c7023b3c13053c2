"""The Dash operations dashboard (reads through query, metrics and store; nothing imports it).

Pages and panels are declared in YAML (top-level ``dashboards/``, shipped with the wheel);
:func:`load_dashboards` validates them, :func:`create_app` serves them.
"""

from greenwatch.dashboard._app import create_app
from greenwatch.dashboard._auth import hash_password, verify_password
from greenwatch.dashboard._spec import Page, load_dashboards

__all__ = [
    "Page",
    "create_app",
    "hash_password",
    "load_dashboards",
    "verify_password",
]
