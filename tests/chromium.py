"""Headless Chromium driven over the DevTools protocol, for measuring a rendered email.

Why the DevTools protocol (with the small `websocket-client` package) rather than
`--dump-dom` or Playwright: one browser serves every page of a test run; the viewport
width, colour scheme and network are set per page (emulation and request interception,
so pictures come from the test and nothing leaves the machine); measurements come back
as JSON from the live page, without adding a script to the email; and it works with
whatever Chromium the system packages, where Playwright pins its own browser build.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
import websocket

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0")

# Run in the page: every visible piece of text with its computed size and colours, the
# widest element, and the page's scroll width. Backgrounds are found by walking up to the
# first ancestor with an opaque background colour (the email uses no background images).
MEASURE = r"""
(() => {
  const opaque = c => c && c !== 'transparent' && !/rgba\(.*,\s*0\)$/.test(c);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (opaque(c)) return c;
    }
    return 'rgb(255, 255, 255)';
  };
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    if (!text) continue;
    const el = n.parentElement;
    const range = document.createRange();
    range.selectNodeContents(n);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    const s = getComputedStyle(el);
    if (!rects.length || s.visibility === 'hidden' || s.opacity === '0') continue;
    texts.push({text: text.slice(0, 60), tag: el.tagName.toLowerCase(),
                cls: el.className || (el.parentElement && el.parentElement.className) || '',
                size: parseFloat(s.fontSize), weight: s.fontWeight,
                color: s.color, background: background(el),
                right: Math.max(...rects.map(r => r.right))});
  }
  let widest = null;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width && (!widest || r.right > widest.right))
      widest = {tag: el.tagName.toLowerCase(), cls: el.className, right: r.right};
  }
  const imgs = [...document.images].map(i => ({src: i.src, width: i.getBoundingClientRect().width,
    height: i.getBoundingClientRect().height, complete: i.complete, natural: i.naturalWidth}));
  return JSON.stringify({
    viewport: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    height: document.documentElement.scrollHeight,
    texts, widest, imgs});
})()
"""


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def chromium_or_skip(needed_for: str) -> str:
    """The Chromium to run; without one the test is skipped, saying what it needed it for."""
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian package `chromium`; .ci/run installs "
                    f"it): {needed_for}")
    return binary


def picture_png(width: int, height: int, seed: int) -> bytes:
    """A small photo-like PNG (a tinted gradient), made here, so no image is fetched."""
    r0, g0, b0 = (seed * 53) % 160 + 60, (seed * 97) % 140 + 60, (seed * 29) % 150 + 70
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            t = (x + y) / (width + height)
            row += bytes((int(r0 + 80 * t) % 256, int(g0 + 50 * (1 - t)) % 256,
                          int(b0 + 60 * t * t) % 256))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


class Chromium:
    """One headless browser; `render` loads an HTML file in a fresh tab and measures it."""

    def __init__(self, binary: str) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="digest-chromium-"))
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while True:
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) >= 2:
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{binary} did not start its DevTools endpoint")
            time.sleep(0.05)
        self.socket = websocket.create_connection(f"ws://127.0.0.1:{lines[0]}{lines[1]}",
                                                  timeout=60, suppress_origin=True)
        self.next_id = 0
        self.picture_requests: list[str] = []
        self.allowed: tuple[str, ...] = ()  # URL prefixes let through (a server on loopback)

    def close(self) -> None:
        try:
            if getattr(self, "socket", None) is not None:
                self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def _send(self, method: str, params: dict[str, Any] | None = None,
              session: str | None = None) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        return self.next_id

    def _pump(self, session: str | None, images: bool, *, until_id: int | None = None,
              until_event: str | None = None) -> dict[str, Any]:
        """Read messages, answering intercepted requests, until the reply or event wanted."""
        while True:
            message = json.loads(self.socket.recv())
            if message.get("method") == "Fetch.requestPaused":
                self._answer(message, images)
                continue
            if until_id is not None and message.get("id") == until_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools error: {message['error']}")
                return dict(message.get("result", {}))
            if until_event is not None and message.get("method") == until_event \
                    and message.get("sessionId") == session:
                return dict(message.get("params", {}))

    def _answer(self, message: dict[str, Any], images: bool) -> None:
        params = message["params"]
        session = message.get("sessionId")
        request_id = params["requestId"]
        url = params["request"]["url"]
        if url.startswith(self.allowed) and self.allowed:
            self._send("Fetch.continueRequest", {"requestId": request_id}, session)
        elif images and params.get("resourceType") == "Image":
            self.picture_requests.append(url)
            body = picture_png(240, 160, sum(url.encode()) % 97)
            self._send("Fetch.fulfillRequest", {
                "requestId": request_id, "responseCode": 200,
                "responseHeaders": [{"name": "Content-Type", "value": "image/png"}],
                "body": base64.b64encode(body).decode()}, session)
        else:
            # Nothing else may leave the machine; blocked images show their alt text.
            self._send("Fetch.failRequest", {"requestId": request_id,
                                             "errorReason": "BlockedByClient"}, session)

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, images: bool = True) -> dict[str, Any]:
        return self._pump(session, images, until_id=self._send(method, params, session))

    def render(self, page: Path, *, width: int, dark: bool = False, images: bool = True,
               screenshot: Path | None = None, top: int = 0,
               height: int | None = None) -> dict[str, Any]:
        """Load `page` at `width` CSS pixels and return the MEASURE results."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        try:
            def call(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
                return self.call(method, params, session, images)

            call("Page.enable")
            call("Fetch.enable", {"patterns": [{"urlPattern": "http*://*"}]})
            call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            call("Emulation.setEmulatedMedia", {"features": [
                {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
            call("Page.navigate", {"url": page.resolve().as_uri()})
            self._pump(session, images, until_event="Page.loadEventFired")
            result = call("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True})
            measured: dict[str, Any] = json.loads(result["result"]["value"])
            if screenshot is not None:
                shot = call("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": top, "width": width,
                             "height": height or measured["height"] - top,
                             "scale": 1}})
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            return measured
        finally:
            self.call("Target.closeTarget", {"targetId": target})


class Tab:
    """A live page in the browser, for a flow through a server on loopback: go to a URL,
    run a line of script, press a button and wait for the next page, take a picture.
    Requests to anything but `allowed` are refused, as in `Chromium.render`."""

    def __init__(self, browser: Chromium, allowed: str, *, width: int) -> None:
        self.browser = browser
        browser.allowed = (allowed,)
        self.width = width
        self.target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget",
                                    {"targetId": self.target, "flatten": True})["sessionId"]
        self.call("Page.enable")
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "http*://*"}]})
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session, images=False)

    def go(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.browser._pump(self.session, False, until_event="Page.loadEventFired")

    def run(self, script: str) -> Any:
        """The value of `script` (an expression) in the page."""
        result = self.call("Runtime.evaluate", {"expression": script, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"in the page: {result['exceptionDetails']}")
        return result["result"].get("value")

    def press(self, selector: str) -> None:
        """Click the button `selector` finds and wait for the page it leads to."""
        self.run(f"setTimeout(() => document.querySelector({json.dumps(selector)}).click(), 0)")
        self.browser._pump(self.session, False, until_event="Page.loadEventFired")

    def overflow(self) -> int:
        """How far the page is wider than the viewport (0 when it fits)."""
        return int(self.run("document.documentElement.scrollWidth")) - self.width

    def text(self) -> str:
        return str(self.run("document.body.innerText"))

    def screenshot(self, path: Path) -> None:
        height = int(self.run("document.documentElement.scrollHeight"))
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})
        self.browser.allowed = ()
