"""`digest init`: a commented config.toml (from a site's categories when it can find
them) and a templates/ folder to customise."""

from __future__ import annotations

import ipaddress
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import jinja2

from digest.config.reference import template_settings
from digest.errors import DigestError, InputError, ProjectExists
from digest.render.templates import default_templates
from digest.scaffold.discover import FoundCategory, Site, discover

__all__ = ["Project", "ProjectExists", "Site", "default_sender", "default_title", "discover",
           "render_config", "write_project"]

HERE = Path(__file__).resolve().parent
MAX_CATEGORIES = 12  # more go in the file commented out: a digest is a short read


@dataclass(frozen=True)
class Project:
    """What init wrote."""

    config: Path
    templates_written: tuple[Path, ...]
    templates_kept: tuple[Path, ...]  # already there: the editor's own, never overwritten
    categories: int


def _toml_string(value: object) -> str:
    # A JSON string is a valid TOML basic string: same quotes and escapes.
    return json.dumps(str(value), ensure_ascii=False)


def _link(site: Site | None) -> str:
    if site is None:
        return "https://news.example.org/"
    return site.url if site.url.endswith("/") else site.url + "/"


def _domain(site: Site | None) -> str:
    return urlsplit(_link(site)).hostname or "example.org"


def _mail_domain(site: Site | None) -> str:
    """The site's host as an address's domain: an IP address as a domain literal."""
    host = _domain(site)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


def default_title(site: Site | None) -> str:
    """The newsletter's name unless the editor gives one: the site's name + Daily Digest."""
    name = (site.name or _domain(site)) if site is not None else None
    return f"{name} Daily Digest" if name else "Daily Digest"


def default_sender(site: Site | None, title: str) -> str:
    return f"{title} <digest@{_mail_domain(site)}>"


def render_config(site: Site | None, *, title: str | None = None,
                  sender: str | None = None) -> str:
    """The text of a commented config.toml; placeholders marked CHANGE without a site."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE)),
                             autoescape=False, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["toml"] = _toml_string
    env.globals["settings"] = template_settings
    link = _link(site)
    categories = list(site.categories) if site is not None else []
    if not categories and site is not None and site.feeds:
        categories = [FoundCategory("news", "News", "", site.feeds[0], None)]
    example = not categories
    if example:  # nothing found: a WordPress-shaped example to replace
        categories = [FoundCategory("news", "News", urljoin(link, "category/news/"),
                                    urljoin(link, "category/news/feed/"), None)]
    digest_title = title or default_title(site)
    return env.get_template("config.toml.j2").render(
        site=site,
        title=digest_title,
        link=link,
        public_url=urljoin(link, "digest/"),
        description=(site.description if site and site.description
                     else "New articles, by category, every morning"),
        language=(site.language if site and site.language else "en"),
        timezone=(site.timezone if site and site.timezone else "UTC"),
        categories=categories[:MAX_CATEGORIES],
        more=categories[MAX_CATEGORIES:],
        example=example,
        sender=sender or default_sender(site, digest_title),
        domain=_mail_domain(site),
        rest_site=link.rstrip("/") if site is not None and site.rest else None,
    )


def copy_templates(target: Path) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """Copy the built-in templates into `target`, keeping any file already there."""
    source = default_templates()
    written, kept = [], []
    for file in sorted(source.rglob("*")):
        if not file.is_file():
            continue
        destination = target / file.relative_to(source)
        if destination.exists():
            kept.append(destination)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, destination)
        written.append(destination)
    return tuple(written), tuple(kept)


def check_folder(folder: Path, *, force: bool = False) -> None:
    """Refuse a folder init cannot write into: `init` asks this before it prompts or
    fetches anything, and write_project again before it writes."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder; choose a folder for the digest")
    config = folder / "config.toml"
    if config.exists() and not force:
        raise ProjectExists(f"{config} already exists; edit it, choose another folder, "
                            "or pass --force to replace it")


def write_project(folder: Path, config_text: str, *, force: bool = False,
                  categories: int = 0) -> Project:
    """Write `folder`/config.toml and `folder`/templates/; never overwrite templates."""
    check_folder(folder, force=force)
    config = folder / "config.toml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = config.with_name(config.name + ".tmp")
        temporary.write_text(config_text, encoding="utf-8")
        temporary.replace(config)
        written, kept = copy_templates(folder / "templates")
    except OSError as exc:
        raise DigestError(f"cannot write into {folder}: {exc.strerror or exc}; check that "
                          "the folder is writable") from None
    return Project(config, written, kept, categories)
