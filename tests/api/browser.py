"""Headless Chromium for the page tests. It comes from the machine (``chromium-headless-shell``, else
``chromium``); tests never install it (the ``chromium`` fixture in ``conftest.py`` skips without
one, or fails under ``SHOTLINE_REQUIRE_SERVICES=1``).

``browse`` runs one page to its settled DOM or a screenshot; ``Chromium`` drives a page over the
DevTools protocol (``--remote-debugging-pipe``: JSON messages separated by NUL bytes on file
descriptors 3 and 4) for tests that click through it: real mouse events at an element's
position, JavaScript evaluated in the page, screenshots."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
PHONE = (390, 844)


def artifact(name: str) -> Path:
    """Where a test keeps a screenshot for people to look at; the folder is made on first use, since
    the order tests run in is not fixed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def browse(browser: str, url: str, *extra: str, size: tuple[int, int] = PHONE) -> str:
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size={size[0]},{size[1]}",
        "--virtual-time-budget=15000",
        *extra,
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Dom(HTMLParser):
    """Every element's attributes and its text, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[dict[str, str]] = []
        self._open: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = {"tag": tag, "text": ""} | {k: v or "" for k, v in attrs}
        self.nodes.append(node)
        self._open.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()["tag"] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for node in self._open:
            node["text"] += data

    def find(self, **attrs: str) -> list[dict[str, str]]:
        return [n for n in self.nodes if all(n.get(k) == v for k, v in attrs.items())]


class BrowserError(AssertionError):
    """The browser could not be driven (it did not start, attach or answer)."""


class Chromium:
    def __init__(self, executable: str, work: Path, size: tuple[int, int] = PHONE) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.log = work / "chromium.log"
        to_browser, self._send_fd = os.pipe()
        self._recv_fd, from_browser = os.pipe()
        argv = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            "--remote-debugging-pipe",
            f"--user-data-dir={work / 'profile'}",
            f"--window-size={size[0]},{size[1]}",
            "about:blank",
        ]
        actions = [
            (os.POSIX_SPAWN_DUP2, to_browser, 3),
            (os.POSIX_SPAWN_DUP2, from_browser, 4),
            (os.POSIX_SPAWN_OPEN, 1, str(self.log), os.O_WRONLY | os.O_CREAT, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ]
        self.pid = os.posix_spawn(executable, argv, dict(os.environ), file_actions=actions)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        try:
            self.session = self._attach()
        except BaseException:
            self.close()
            raise

    def _attach(self) -> str:
        """Attach to the page Chromium opened; its session id."""
        targets = self.browser("Target.getTargets")["targetInfos"]
        target = next(t for t in targets if t["type"] == "page")
        attached = self.browser("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        session: str = attached["sessionId"]
        for domain in ("Page", "Runtime"):
            self._call(f"{domain}.enable", session, {})
        return session

    def _write(self, message: dict[str, Any]) -> None:
        os.write(self._send_fd, json.dumps(message).encode() + b"\0")

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._recv_fd], [], [], left)[0]:
                raise BrowserError(f"Chromium did not answer in {timeout}s ({self.log})")
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed its pipe ({self.log})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _call(self, method: str, session: str | None, params: dict[str, Any]) -> Any:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._write(message)
        while True:
            answer = self._read(60.0)
            if answer.get("id") != self._next:
                continue  # an event, or the answer to a call that timed out
            if "error" in answer:
                raise BrowserError(f"{method}: {answer['error']}")
            return answer.get("result", {})

    def browser(self, method: str, **params: Any) -> Any:
        return self._call(method, None, params)

    def send(self, method: str, **params: Any) -> Any:
        return self._call(method, self.session, params)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120.0, what: str = "") -> Any:
        """The first truthy value of ``expression``, evaluated every 0.2 s (an exception, such
        as a page still loading, counts as not yet)."""
        deadline = time.monotonic() + timeout
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        while True:
            with contextlib.suppress(BrowserError):
                value = self.eval(guarded)
                if value:
                    return value
            if time.monotonic() > deadline:
                state = self.eval("document.body && document.body.dataset.state")
                status = self.eval("(document.getElementById('status') || {}).textContent")
                raise BrowserError(
                    f"waited {timeout}s for {what or expression} (page {state}: {status})"
                )
            time.sleep(0.2)

    def click(self, selector: str) -> None:
        """A real left click (mouse events) at the middle of the element ``selector``."""
        found = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if not found:
            raise BrowserError(f"no element {selector}")
        x, y = found
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path) -> None:
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        with contextlib.suppress(BrowserError):
            self.browser("Browser.close")
        for fd in (self._send_fd, self._recv_fd):
            os.close(fd)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                return
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
