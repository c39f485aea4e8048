"""Finding and loading the Jinja2 templates: the editor's folder first, then the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # installed wheel
SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"  # source checkout


def default_templates() -> Path:
    return PACKAGE_TEMPLATES if PACKAGE_TEMPLATES.is_dir() else SOURCE_TEMPLATES


def environment(custom: Path | None = None) -> jinja2.Environment:
    """A Jinja2 environment with autoescaping for HTML and none for text templates."""
    import jinja2  # here: a build with nothing to render needs only default_templates()

    folders = [str(custom)] if custom else []
    folders.append(str(default_templates()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env
