"""HTML compared as a tree, not as one serialiser's text.

nh3 (html5ever) and lxml may change how they write the same markup between
releases (quoting, entity choice, self-closing tags); what we own is which
elements, attributes and text come out.
"""

from __future__ import annotations

from typing import Any

import lxml.html


def _shape(element: Any) -> tuple[Any, ...]:
    return (element.tag, sorted(element.attrib.items()), element.text or "",
            [_shape(child) for child in element], element.tail or "")


def html_tree(markup: str) -> tuple[Any, ...]:
    """Tags, attributes and text of an HTML fragment, in order."""
    return _shape(lxml.html.fragment_fromstring(markup, create_parent="div"))


def same_html(actual: str, expected: str) -> bool:
    """True when two fragments hold the same elements, attributes and text."""
    return html_tree(actual) == html_tree(expected)
