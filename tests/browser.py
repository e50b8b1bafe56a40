"""Headless Chromium driven over the DevTools protocol: one browser for many pages, offline.

    with Browser() as browser:
        browser.open(page)                          # a local file; waits for the load event
        value = browser.evaluate("document.title")  # a JavaScript expression (promises are awaited)

The browser talks over a pipe (`--remote-debugging-pipe`: it reads commands from fd 3 and writes replies to fd 4,
each a JSON message ending in a NUL byte), so no port, websocket or extra package is needed. Every host name
resolves to nothing, so a page that would fetch from the network fails at once instead of waiting on it.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = "chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
]


class BrowserError(RuntimeError):
    pass


def available() -> bool:
    return shutil.which(CHROMIUM) is not None


class Browser:
    """One headless Chromium with one tab; `open` a page, then `evaluate` JavaScript in it."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="mlbits-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: our pipe ends become fd 3 (its commands) and fd 4 (its replies)
            os.dup2(to_browser_r, 100)  # via spare numbers, in case a pipe end already is fd 3 or 4
            os.dup2(from_browser_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)
            os.close(100)
            os.close(101)

        # chromium's log goes to a file: a pipe nobody reads would fill up and stall the browser
        self._log = open(Path(self._profile.name) / "chromium.log", "w+b")
        self._proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile.name}/profile", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            pass_fds=(3, 4), preexec_fn=wire,  # fds 3 and 4 stay open through exec
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict] = []  # messages that are not replies (page events), in arrival order
        try:
            target = self._call("Target.createTarget", url="about:blank")["targetId"]
            self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            self.send("Page.enable")  # load events
        except BaseException:
            self.close()
            raise

    # --------------------------------------------------------------------------------------------- protocol
    def _write(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data):]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"chromium did not answer within {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited: {self.log()[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        self._write(request)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._events.append(reply)

    def send(self, method: str, **params: Any) -> dict:
        """A DevTools command to the tab, e.g. send("Page.navigate", url=...)."""
        return self._call(method, self._session, **params)

    # --------------------------------------------------------------------------------------------- pages
    def open(self, page: Path) -> None:
        """Load a local file and wait for its load event (scripts loaded and run)."""
        self._events.clear()
        self.send("Page.navigate", url=page.resolve().as_uri())
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            self._events.append(self._read(deadline))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited; the value comes back as JSON)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True,
                           timeout=self.timeout * 1000)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return result["result"].get("value")

    def log(self) -> str:
        """What chromium wrote to its stdout and stderr so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    # --------------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        try:
            self._call("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
