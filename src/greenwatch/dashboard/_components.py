"""greenwatch's own Dash components, drawn in the browser by ``assets/components.js``."""

from __future__ import annotations

from typing import Any

from dash.development.base_component import Component


class StaticHtml(Component):
    """HTML drawn on the server, put in the page as it is (one element, however many rows).

    Every text in ``html`` must already be escaped (:func:`html.escape`): the browser parses
    it as markup. A click on a link of this origin inside it opens the page as a
    :class:`dcc.Link` would, without reloading the dashboard.
    """

    _namespace = "greenwatch"
    _type = "StaticHtml"
    # Dash's own attributes, declared as its generated components declare them.
    _prop_names = ["id", "html", "className"]  # noqa: RUF012
    _valid_wildcard_attributes: list[str] = []  # noqa: RUF012
    available_properties = _prop_names
    available_wildcard_properties = _valid_wildcard_attributes

    def __init__(self, html: str, class_name: str = "", **kwargs: Any) -> None:
        super().__init__(html=html, className=class_name, **kwargs)  # type: ignore[no-untyped-call]
