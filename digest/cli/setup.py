"""Setting up and serving: init, serve."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.framework import DigestCommand, Settings, fail, pass_settings

if TYPE_CHECKING:
    from digest.app.setup import Site


@click.command(cls=DigestCommand)
@click.argument("folder_text", metavar="[DIR | URL]", default=".")
@click.option("--url", metavar="URL",
              help="The site to look at for categories and feeds (asked for when "
                   "interactive).")
@click.option("--no-input", is_flag=True,
              help="Ask nothing: with --url, use what the site shows; without, write a "
                   "template to fill in.")
@click.option("--feeds", "use_feeds", is_flag=True,
              help="Read the categories through their feeds even where the site's REST API "
                   "answers.")
@click.option("--force", is_flag=True,
              help="Replace an existing config.toml (templates already there are kept).")
@pass_settings
def init(settings: Settings, folder_text: str, url: str | None, no_input: bool,
         use_feeds: bool, force: bool) -> None:
    """Start a digest: config.toml and templates/ in DIR.

    Writes a commented config.toml and a templates/ folder to customise.
    Given a WordPress site (`digest init https://site` writes into the current
    folder, like --url), finds its categories through the REST API (or the
    category links on its home page): where the API answers, the categories
    are read through it (full text, featured images, every post of the day),
    else through their feeds. Prompts only when stdin is a terminal and
    --no-input is not given.

    \b
    Example:
      digest init aze-daily --url https://example.org --no-input
    """
    from digest.app.setup import (
        check_folder,
        default_sender,
        default_title,
        discover_site,
        init_project,
    )
    if _looks_like_url(folder_text):
        if url is not None:
            fail(f"{folder_text!r} looks like a site address, not a folder, and --url is "
                 "given too; give the folder first: `digest init DIR --url URL`", 2)
        url, folder_text = folder_text, "."
        if url.lower().startswith("www."):
            url = "https://" + url
    folder = Path(folder_text)
    check_folder(folder, force=force)
    interactive = not no_input and sys.stdin.isatty()
    if url is None and interactive:
        url = click.prompt("Site address (empty for a template to fill in)", default="",
                           show_default=False, err=True).strip() or None
    site = None
    if url:
        settings.info(f"looking at {url} ...")
        site = discover_site(url, feeds_only=use_feeds)
        _say_found(settings, site)
    title = sender = None
    if interactive:
        title = click.prompt("Digest title", default=default_title(site), err=True)
        sender = click.prompt("Sender (From)", default=default_sender(site, title), err=True,
                              value_proc=_sender)
    project = init_project(folder, site, title=title, sender=sender, force=force)
    settings.detail(f"wrote {project.config}")
    for path in project.templates_kept:
        settings.detail(f"kept {path} (already there)")
    kept = f", kept {len(project.templates_kept)} already there" if project.templates_kept \
        else ""
    what = f"{project.categories} categories" if site else "a template to fill in"
    settings.info(f"wrote {project.config} ({what}) and "
                  f"{len(project.templates_written)} templates in {folder / 'templates'}{kept}")
    settings.info(f"next: review {project.config}, then `digest feeds check` and "
                  "`digest send --dry-run` in that folder")


def _say_found(settings: Settings, site: Site) -> None:
    for note in site.notes:
        settings.warn(note)
    kind = "WordPress site" if site.wordpress else "site"
    where = {"rest-api": "its REST API", "html": "its home page's links",
             "none": "nowhere"}[site.via]
    named = f" {site.name}" if site.name else ""
    settings.info(f"{site.url}: {kind}{named}; {len(site.categories)} categories "
                  f"from {where}")
    for c in site.categories:
        count = f", {c.articles} articles" if c.articles is not None else ""
        shown = f"REST API category {c.site_slug}" if site.rest and c.site_slug else c.feed
        settings.info(f"  {c.title} ({c.slug}{count}): {shown}")
    if site.rest:
        settings.info("the REST API answers, so the categories are read through it: "
                      "full text, featured images and each post's own categories, and "
                      "every post of the day (a category feed carries only the newest "
                      "10); `--feeds` writes their feeds instead")
    if not site.categories and not site.feeds:
        settings.warn(f"no category or feed found at {site.url}; the config has an "
                      "example category to replace")


def _looks_like_url(text: str) -> bool:
    """Whether init's folder argument is a site address (never made into a folder)."""
    return "://" in text or text.lower().startswith(("http:", "https:", "www."))


def _sender(value: str) -> str:
    """A From line with an address in it, or ask again."""
    from email.utils import parseaddr

    if "@" not in parseaddr(value)[1]:
        raise click.BadParameter("give an address like 'Aze Daily <digest@example.org>'")
    return value.strip()


@click.command(cls=DigestCommand)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback: put a TLS reverse proxy in front).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@pass_settings
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the output folder and the one-click unsubscribe endpoint over HTTP.

    Feeds and pages go out with ETag and Last-Modified (304 when unchanged), gzip
    and their types; limits are in [serve]. Needs the state file (run `digest
    fetch` first): serving never creates one.

    \b
    Example:
      digest serve --port 8080
    """
    from digest.serve import run_server

    config = settings.config
    if host not in ("127.0.0.1", "localhost", "::1"):
        settings.warn(f"listening on {host}: unsubscribe links carry tokens, so serve the "
                      "public through an HTTPS reverse proxy")
    try:
        run_server(config, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
             "choose another --port or --host", 1)


COMMANDS = (init, serve)
