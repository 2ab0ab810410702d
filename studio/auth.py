"""Who may do what on a shared studio: a users file with salted password hashes (PBKDF2) and
access tokens, and three roles.

    viewer    read everything
    reviewer  + verdicts and comments on episodes and rollouts
    curator   + tags, selections, exports, training and evaluation jobs

The users file (JSON, written atomically) defaults to `<home>/users.json`:

    {"format": 1, "users": [{"name": "ana", "role": "reviewer", "salt": "…", "hash": "…",
      "iterations": 200000, "tokens": ["<sha256 of a token>"]}]}

Passwords and tokens are never stored in clear. `studio launch` on localhost needs none of
this: with no `Auth`, the local user acts as a curator.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import AuthError

ROLES = ("viewer", "reviewer", "curator")
PERMISSIONS: dict[str, str] = {
    "view": "viewer",
    "comment": "reviewer",
    "verdict": "reviewer",
    "tag": "curator",
    "select": "curator",
    "export": "curator",
    "train": "curator",
    "evaluate": "curator",
    "edit_workspace": "curator",
    "set_weights": "curator",
}
USERS_FILE = "users.json"
ITERATIONS = 200_000
MIN_PASSWORD = 8
_DUMMY_SALT = secrets.token_bytes(16)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def _hash(password: str, salt: bytes, iterations: int) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations).hex()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_allows(role: str, permission: str) -> bool:
    need = PERMISSIONS.get(permission)
    if need is None:
        raise AuthError("permission", f"unknown permission '{permission}' (known: {', '.join(PERMISSIONS)})")
    return role in ROLES and ROLES.index(role) >= ROLES.index(need)


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, permission: str) -> bool:
        return role_allows(self.role, permission)


def default_users_path(project) -> Path:
    return Path(project.home) / USERS_FILE


class UsersFile:
    """Read and change a users file; every change is written atomically."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self._cache: tuple | None = None  # (file stamp, {name: fingerprint})

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"format": 1, "users": []}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = data["users"]
            if not isinstance(users, list):
                raise TypeError("users is not a list")
            for u in users:
                if u["role"] not in ROLES or not isinstance(u["name"], str):
                    raise ValueError(f"bad entry for {u.get('name')!r}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AuthError(str(self.path), f"is not a valid users file ({exc})") from None
        return data

    def _save(self, data: dict[str, Any]) -> None:
        from studio.fsutil import atomic_write_text

        atomic_write_text(self.path, json.dumps(data, indent=2) + "\n")
        try:
            os.chmod(self.path, 0o600)
        except OSError:  # pragma: no cover - e.g. a filesystem without modes
            pass

    def users(self) -> list[User]:
        return [User(u["name"], u["role"]) for u in self._load()["users"]]

    def add(self, name: str, role: str, password: str | None = None, *, replace: bool = False) -> User:
        if not _NAME_RE.match(name or ""):
            raise AuthError(f"user '{name}'", "a user name is letters, digits and . _ @ - (at most 64)")
        if role not in ROLES:
            raise AuthError(f"role '{role}'", f"is not a role (roles: {', '.join(ROLES)})")
        if password is not None and len(password) < MIN_PASSWORD:
            raise AuthError(f"user '{name}'", f"the password is too short (at least {MIN_PASSWORD} characters)")
        data = self._load()
        existing = next((u for u in data["users"] if u["name"] == name), None)
        if existing is not None and not replace:
            raise AuthError(f"user '{name}'", "already exists (remove it first, or use --replace)")
        entry: dict[str, Any] = {"name": name, "role": role, "tokens": []}
        if existing is not None:
            entry["tokens"] = existing.get("tokens", [])
        if password is not None:
            salt = secrets.token_bytes(16)
            entry.update(salt=salt.hex(), hash=_hash(password, salt, ITERATIONS), iterations=ITERATIONS)
        data["users"] = [u for u in data["users"] if u["name"] != name] + [entry]
        self._save(data)
        return User(name, role)

    def new_token(self, name: str) -> str:
        """Create an access token for a user (shown once; only its hash is kept)."""
        data = self._load()
        entry = next((u for u in data["users"] if u["name"] == name), None)
        if entry is None:
            raise AuthError(f"user '{name}'", "no such user")
        token = "fw_" + secrets.token_urlsafe(24)
        entry.setdefault("tokens", []).append(_token_hash(token))
        self._save(data)
        return token

    def remove(self, name: str) -> None:
        data = self._load()
        if not any(u["name"] == name for u in data["users"]):
            raise AuthError(f"user '{name}'", "no such user")
        data["users"] = [u for u in data["users"] if u["name"] != name]
        self._save(data)

    def verify(self, name: str, secret: str) -> User | None:
        """The user when `secret` is their password or one of their tokens, else None.

        Takes the same time whether or not the user exists (an unknown name hashes a dummy),
        so sign-in timing does not reveal user names."""
        entry = next((u for u in self._load()["users"] if u["name"] == name), None)
        found = None
        if entry is not None and "hash" in entry:
            got = _hash(secret, bytes.fromhex(entry["salt"]), int(entry.get("iterations", ITERATIONS)))
            if hmac.compare_digest(got, entry["hash"]):
                found = User(entry["name"], entry["role"])
        else:
            hmac.compare_digest(_hash(secret, _DUMMY_SALT, ITERATIONS), _DUMMY_SALT.hex())
        th = _token_hash(secret)
        if found is None and entry is not None and any(hmac.compare_digest(th, t) for t in entry.get("tokens", [])):
            found = User(entry["name"], entry["role"])
        return found

    def fingerprint(self, name: str) -> str | None:
        """A digest of a user's role and password (None when no such user): sessions signed in
        under an older fingerprint are revoked (a new token leaves them alone)."""
        st = self.path.stat() if self.path.exists() else None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino) if st else None
        if self._cache is None or self._cache[0] != stamp:
            prints = {}
            for u in self._load()["users"]:
                blob = json.dumps([u["role"], u.get("hash"), u.get("salt")])
                prints[u["name"]] = hashlib.sha256(blob.encode()).hexdigest()
            self._cache = (stamp, prints)
        return self._cache[1].get(name)


class Auth:
    """Authentication for a served studio; `gradio_auth` is what Gradio's `launch(auth=)` takes."""

    def __init__(self, users: UsersFile):
        self.users_file = users
        if not users.users():
            raise AuthError(str(users.path), "has no users; add one with `studio users add NAME --role ROLE`")

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Auth":
        path = Path(path).expanduser()
        if not path.exists():
            raise AuthError(str(path), "no such users file; create it with `studio users add NAME --role ROLE --users FILE`")
        return cls(UsersFile(path))

    def gradio_auth(self, username: str, password: str) -> bool:
        return self.users_file.verify(username, password) is not None

    def fingerprint(self, username: str) -> str | None:
        return self.users_file.fingerprint(username)

    def user(self, username: str | None) -> User:
        found = next((u for u in self.users_file.users() if u.name == username), None)
        if found is None:
            raise AuthError("login", "you are not signed in as a known user")
        return found


def local_user() -> User:
    """On a password-free localhost studio the person at the machine is a curator."""
    try:
        name = getpass.getuser()
    except Exception:  # pragma: no cover - no login name in some containers
        name = "local"
    return User(name or "local", "curator")


def current_user(auth: Auth | None, request: Any = None) -> User:
    """The user behind a Gradio request: the signed-in user when served with auth, else local."""
    if auth is None:
        return local_user()
    return auth.user(getattr(request, "username", None))


def require(auth: Auth | None, request: Any, permission: str) -> User:
    """The user, or AuthError when their role does not allow `permission`."""
    user = current_user(auth, request)
    if not user.can(permission):
        need = PERMISSIONS[permission]
        raise AuthError(f"user '{user.name}' ({user.role})", f"may not {permission.replace('_', ' ')}: that needs the {need} role")
    return user
