"""Starting a digest: what runs before there is a config (`digest init`).

Module-level functions, not `Digest` methods: there is no config to open yet.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from digest.scaffold import (
    Project,
    Site,
    check_folder,
    default_sender,
    default_title,
    discover,
    render_config,
    write_project,
)

__all__ = ["Project", "Site", "check_folder", "default_sender", "default_title",
           "discover_site", "init_project"]


def discover_site(url: str, *, feeds_only: bool = False) -> Site:
    """A site's name, language and categories, through its REST API or its home page;
    `feeds_only` reads the categories through their feeds even where the API answers."""
    site = discover(url)
    return replace(site, rest=False) if feeds_only else site


def init_project(folder: Path, site: Site | None, *, title: str | None = None,
                 sender: str | None = None, force: bool = False) -> Project:
    """Write FOLDER/config.toml (commented, from `site` if given) and FOLDER/templates/."""
    text = render_config(site, title=title, sender=sender)
    return write_project(folder, text, force=force,
                         categories=len(site.categories) if site else 0)
