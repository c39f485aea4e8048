"""`digest serve`: the output folder over real HTTP, safely, and the command itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from newsroom import SAMPLE_DATE, run, sample_config
from support.servers import free_port
from web import request, serving

from digest.config import Config, load_config


@pytest.fixture
def published(tmp_path: Path) -> Config:
    config = sample_config(tmp_path, 25)
    run(config, "fetch")
    run(config, "build", "--date", SAMPLE_DATE)
    (tmp_path / "secret.txt").write_text("outside the output folder")
    (tmp_path / "public" / ".hidden").write_text("dot file")
    return load_config(config)


def test_the_output_folder_is_served_with_types(published: Config):
    with serving(published) as base:
        index = request(base, "GET", "/")
        assert index.status == 200
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        assert index.body == (published.output / "index.html").read_text(encoding="utf-8")
        edition = request(base, "GET", f"/editions/{SAMPLE_DATE}.html")
        assert edition.status == 200 and "<html" in edition.body
        feed = request(base, "GET", "/rss.xml")
        assert feed.status == 200 and feed.headers["content-type"].startswith("application/")
        assert feed.body.startswith("<?xml")
        head = request(base, "HEAD", "/rss.xml")
        assert head.status == 200 and head.body == ""
        assert head.headers["content-length"] == str(len(feed.body.encode()))


@pytest.mark.parametrize("path", [
    "/missing.html", "/../secret.txt", "/editions/../../secret.txt", "/%2e%2e/secret.txt",
    "/.hidden", "/editions/..%2f..%2fsecret.txt",
])
def test_nothing_outside_the_output_folder_or_missing_is_served(published: Config, path: str):
    with serving(published) as base:
        reply = request(base, "GET", path)
    assert reply.status == 404, reply
    assert "outside the output folder" not in reply.body


def test_only_reading_methods_on_files(published: Config):
    with serving(published) as base:
        reply = request(base, "PUT", "/index.html", b"x")
        assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD"
        reply = request(base, "DELETE", "/unsubscribe?token=x")
        assert reply.status == 405 and reply.headers["allow"] == "GET, POST"


def test_digest_serve_runs_a_real_server_on_loopback(published: Config):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(published.path), "serve",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = request(base, "GET", "/")
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "digest serve did not start"
                time.sleep(0.05)
        assert reply.status == 200
        assert request(base, "POST", "/unsubscribe?token=forged.token").status == 400
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert f"on http://127.0.0.1:{port}/" in err.decode()


def test_digest_serve_says_when_the_port_is_taken(published: Config):
    with serving(published) as base:
        port = base.rsplit(":", 1)[1]
        out = run(published.path, "serve", "--port", port, code=1)
    assert f"cannot listen on 127.0.0.1:{port}" in out
