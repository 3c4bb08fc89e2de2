"""Headless Chromium for tests: Debian's `chromium`, driven over the DevTools protocol on a
pipe (`--remote-debugging-pipe`: fd 3 in, fd 4 out, NUL-ended JSON), no extra package.

The protocol is used rather than `--screenshot` alone because a desktop window is never
narrower than 500 px: a phone's 390 px viewport is only real under device emulation.

    with Chromium() as browser:
        page = browser.open(Path("report.html"), width=390)
        page.evaluate("document.documentElement.scrollWidth"), page.screenshot(), page.problems
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--mute-audio",
]  # fmt: skip
MISSING = (
    "chromium is not installed: the report's browser tests need Debian's `chromium` "
    "(`apt-get install -y chromium`; `make setup` installs it as root)"
)


def chromium_binary() -> str:
    """The browser's path; an AssertionError saying how to install it when there is none
    (these tests must run, not skip)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(MISSING)


def run_cli(url: str, *args: str, width: int = 1280, timeout: float = 60) -> tuple[str, str]:
    """One plain command-line run (`--dump-dom`, `--screenshot=...`): stdout, stderr."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [chromium_binary(), *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={width},900", *args, url],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout, done.stderr


@dataclass
class Page:
    browser: Chromium
    session: str
    problems: list[str] = field(default_factory=list)  # console errors, exceptions, log errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def evaluate(self, expression: str) -> Any:
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        got = self.browser.call("Runtime.evaluate", params, session=self.session)
        if "exceptionDetails" in got:
            raise AssertionError(f"{expression!r} raised: {got['exceptionDetails']}")
        return got["result"].get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.evaluate("[document.documentElement.scrollWidth, "
                                 "document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        got = self.browser.call("Page.captureScreenshot", params, session=self.session)
        return base64.b64decode(got["data"])


class Chromium:
    def __init__(self, timeout: float = 60) -> None:
        self.timeout = timeout
        self._id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        binary = chromium_binary()
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:  # in the child: the protocol's fds 3 and 4 (dup2 clears CLOEXEC)
            r, w = os.dup(to_child_r), os.dup(from_child_w)  # out of the way of 3 and 4
            os.dup2(r, 3)
            os.dup2(w, 4)

        self._proc = subprocess.Popen(
            [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, close_fds=False,
        )  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        for fd in (self._to_child, self._from_child):
            os.close(fd)
        self._profile.cleanup()

    # -- protocol ----------------------------------------------------------------------------
    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        want = self._id
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            got = self._read(deadline, method)
            if got.get("id") == want:
                if "error" in got:
                    raise AssertionError(f"{method}: {got['error']}")
                return got.get("result", {})
            self._events.append(got)

    def wait_for(self, event: str, deadline: float) -> dict[str, Any]:
        while True:
            for i, got in enumerate(self._events):
                if got.get("method") == event:
                    return self._events.pop(i)
            self._events.append(self._read(deadline, event))

    def _read(self, deadline: float, what: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(0.0, left))
            if not ready:
                raise AssertionError(f"chromium did not answer {what} in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise AssertionError(f"chromium closed the pipe ({what}): {err[-2000:]}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    # -- pages -------------------------------------------------------------------------------
    def open(self, path: Path, *, width: int, height: int = 900) -> Page:
        """A new tab at `width` x `height` CSS px (a phone's when width < 500) with `path`
        loaded; what its console said and what it fetched are on the Page."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target,
                            "flatten": True})["sessionId"]  # fmt: skip
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500,
        }, session=session)  # fmt: skip
        self._events.clear()
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
        deadline = time.monotonic() + self.timeout
        self.wait_for("Page.loadEventFired", deadline)
        self.evaluate_ready(page)
        for got in self._events:
            _note(page, got)
        self._events.clear()
        return page

    def evaluate_ready(self, page: Page) -> None:
        """Let layout settle: two animation frames after load."""
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _note(page: Page, event: dict[str, Any]) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning",
                                                                        "assert"):
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
        page.problems.append(f"console.{params['type']}: {args}")
    elif method == "Runtime.exceptionThrown":
        page.problems.append(f"exception: {params['exceptionDetails']}")
    elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
        entry = params["entry"]
        page.problems.append(f"log {entry['level']}: {entry.get('text')} {entry.get('url', '')}")
    elif method == "Network.requestWillBeSent":
        page.requests.append(params["request"]["url"])


@dataclass
class PngStats:
    width: int
    height: int
    colours: int  # distinct colours
    ink: float  # share of pixels unlike the most common one (the background)


def png_stats(data: bytes) -> PngStats:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) enough to tell a blank one."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), f"unexpected PNG format {depth}/{colour_type}"
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    counts: dict[bytes, int] = {}
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 255
        for x in range(0, stride, bpp * 4):  # every fourth pixel is plenty
            px = bytes(line[x:x + 3])
            counts[px] = counts.get(px, 0) + 1
        previous = line
    total = sum(counts.values())
    return PngStats(width, height, len(counts), 1 - max(counts.values()) / total)
