"""Sign-in sessions of a served studio: login throttling, session revocation, and closing every
route to anyone not signed in.

`SessionGate` is a plain ASGI middleware (no web framework imported here) placed in front of
Gradio's app by `panels.app.launch`:

- `POST /login`: after `FREE_FAILURES` failures for a user name or for a client address within
  `WINDOW_S`, further attempts are refused (HTTP 429, the password is not even checked) until an
  exponentially growing wait has passed: 2 s, 4 s, 8 s, … (at most `MAX_WAIT_S`).
- Every other route except the login page's own assets needs a live session: Gradio leaves some
  (`/gradio_api/reset`, `/cancel`, `/heartbeat`, `/upload_progress`, …) open; here they are closed.
- A session dies when its user is removed from the users file, or their role or password changes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.cookies import SimpleCookie
from typing import Any, Callable
from urllib.parse import parse_qs

log = logging.getLogger("studio.serve")

WINDOW_S = 15 * 60
FREE_FAILURES = 5
FIRST_WAIT_S = 2.0
MAX_WAIT_S = 15 * 60

# Paths the login page itself needs (exact), and prefixes of static assets.
PUBLIC_PATHS = {
    "/", "/login", "/login/", "/logout", "/favicon.ico", "/robots.txt", "/manifest.json", "/theme.css",
    "/gradio_api/theme.css", "/config", "/config/", "/gradio_api/login_check", "/gradio_api/login_check/",
    "/gradio_api/app_id", "/gradio_api/app_id/", "/gradio_api/info", "/gradio_api/info/",
    "/gradio_api/startup-events",  # gradio checks it while launching; it runs nothing a second time
}
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon", "/gradio_api/assets/")


class LoginThrottle:
    """Failed sign-ins per key (a user name, a client address) and the wait they impose."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        fails = [t for t in self._fails.get(key, []) if now - t < WINDOW_S]
        if fails:
            self._fails[key] = fails
        else:
            self._fails.pop(key, None)
        return fails

    def wait_s(self, *keys: str) -> float:
        """Seconds before another attempt for these keys is checked (0: now)."""
        now = self.clock()
        with self._lock:
            worst = 0.0
            for key in keys:
                fails = self._recent(key, now)
                if len(fails) < FREE_FAILURES:
                    continue
                wait = min(FIRST_WAIT_S * 2 ** (len(fails) - FREE_FAILURES), MAX_WAIT_S)
                worst = max(worst, fails[-1] + wait - now)
            return max(0.0, worst)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._fails.setdefault(key, []).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


async def _send_json(send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SessionGate:
    """ASGI middleware: throttled sign-in, revocable sessions, no anonymous route but the login page."""

    def __init__(self, app, auth, throttle: LoginThrottle | None = None):
        self.app = app
        self.auth = auth
        self.throttle = throttle or LoginThrottle()
        self._sessions: dict[str, str] = {}  # token -> fingerprint of the user entry at sign-in
        self._lock = threading.Lock()

    # -------------------------------------------------------------- sessions
    def _token(self, scope) -> str | None:
        gradio_app = scope.get("app")
        cookie_id = getattr(gradio_app, "cookie_id", None)
        raw = b"; ".join(v for k, v in scope.get("headers", []) if k == b"cookie").decode("latin-1")
        if not raw or cookie_id is None:
            return None
        jar = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed cookie header is no session
            return None
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            if name in jar:
                return jar[name].value
        return None

    def _live_user(self, scope) -> str | None:
        """The signed-in user of this request, revoking the session if their entry changed."""
        token = self._token(scope)
        tokens = getattr(scope.get("app"), "tokens", None)
        if token is None or not isinstance(tokens, dict) or token not in tokens:
            return None
        name = tokens[token]
        now = self.auth.fingerprint(name)
        with self._lock:
            was = self._sessions.setdefault(token, now) if now is not None else self._sessions.get(token)
        if now is None or was != now:
            tokens.pop(token, None)
            with self._lock:
                self._sessions.pop(token, None)
            log.warning("revoked the session of %s (user removed or changed)", name)
            print(f"revoked: the session of '{name}' (user removed, or role or password changed)", flush=True)
            return None
        return name

    # -------------------------------------------------------------- ASGI
    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        root = scope.get("root_path", "") or ""
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        if path in ("/login", "/login/") and scope.get("method") == "POST":
            return await self._login(scope, receive, send)
        live = self._live_user(scope)  # also drops a revoked token before Gradio's own checks see it
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return await self.app(scope, receive, send)
        if live is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
                return
            return await _send_json(send, 401, {"detail": "Not authenticated: sign in first."})
        return await self.app(scope, receive, send)

    async def _login(self, scope, receive, send):
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        form = parse_qs(body.decode("utf-8", "replace"))
        user = (form.get("username") or [""])[0].strip()
        client = scope.get("client") or ("?", 0)
        keys = (f"user:{user}", f"addr:{client[0]}")
        wait = self.throttle.wait_s(*keys)
        if wait > 0:
            log.warning("refused sign-in for %r from %s: throttled for %.1f s", user, client[0], wait)
            return await _send_json(send, 429, {"detail": f"Too many failed sign-ins; try again in {wait:.0f} s."})

        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status: list[int] = []
        cookies: list[bytes] = []

        async def watch(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
                cookies.extend(v for k, v in message.get("headers", []) if k.lower() == b"set-cookie")
            await send(message)

        await self.app(scope, replay, watch)
        if status and status[0] == 200:
            self.throttle.succeeded(keys[0])
            fingerprint = self.auth.fingerprint(user)
            for raw in cookies:
                name, _, rest = raw.decode("latin-1").partition("=")
                if name.startswith("access-token-") and fingerprint is not None:
                    with self._lock:
                        self._sessions[rest.split(";", 1)[0]] = fingerprint
        elif status and status[0] in (400, 401):
            self.throttle.failed(*keys)
            log.warning("failed sign-in for %r from %s", user, client[0])
