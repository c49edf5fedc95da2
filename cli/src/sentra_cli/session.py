"""`sentra login`: tokens from the Sentra realm, kept in a file only the user can read.

Flows (Keycloak's OpenID Connect endpoints, client `sentra-cli`):
- password (resource owner) — `sentra login -u ana`;
- device authorization — `sentra login --device` prints a URL and a code to open in a browser;
- client credentials — `sentra login --client-id sentra-connector` for service accounts.

The access token is refreshed with the refresh token when it is about to expire.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

CLI_CLIENT = "sentra-cli"
REFRESH_MARGIN_SECONDS = 30


class LoginError(Exception):
    """A login or token refresh was refused; the message says why and what to do."""


def config_dir() -> Path:
    return Path(os.environ.get("SENTRA_CONFIG_DIR") or Path.home() / ".config" / "sentra")


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


@dataclass
class Session:
    issuer: str
    client_id: str
    access_token: str
    expires_at: float
    refresh_token: str = ""
    refresh_expires_at: float = 0.0
    username: str = ""
    # Only for service accounts (client credentials), so the CLI can renew the token.
    client_secret: str = ""

    def save(self, path: Path | None = None) -> Path:
        """Write with mode 0600 (the directory 0700): tokens are credentials."""
        path = path or credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | None = None) -> Session | None:
        path = path or credentials_path()
        if not path.exists():
            return None
        if path.stat().st_mode & 0o077:
            raise LoginError(f"{path} is readable by other users; delete it and `sentra login` again")
        return cls(**json.loads(path.read_text()))

    def fresh_access_token(self) -> str:
        """The access token, refreshed first when it expires within 30 s."""
        if time.time() < self.expires_at - REFRESH_MARGIN_SECONDS:
            return self.access_token
        if self.client_secret:
            renewed = client_credentials(self.issuer, self.client_id, self.client_secret)
        elif self.refresh_token and time.time() < self.refresh_expires_at - 5:
            renewed = _token_request(self.issuer, {
                "grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": self.refresh_token,
            }, self.username)
        else:
            raise LoginError("your Sentra session has expired; log in again with `sentra login`")
        self.__dict__.update(asdict(renewed))
        self.save()
        return self.access_token


def _token_endpoint(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/protocol/openid-connect/token"


def _token_request(issuer: str, form: dict[str, str], username: str = "", client_secret: str = "") -> Session:
    try:
        response = httpx.post(_token_endpoint(issuer), data=form, timeout=15)
    except httpx.HTTPError as exc:
        raise LoginError(f"cannot reach the identity provider at {issuer}: {exc}") from None
    body = _json(response)
    if response.status_code != 200:
        reason = body.get("error_description") or f"HTTP {response.status_code}"
        raise LoginError(f"login refused by the identity provider: {reason} ({body.get('error', 'error')})")
    now = time.time()
    return Session(
        issuer=issuer, client_id=form["client_id"], access_token=body["access_token"],
        expires_at=now + float(body.get("expires_in", 60)), refresh_token=body.get("refresh_token", ""),
        refresh_expires_at=now + float(body.get("refresh_expires_in", 0) or 0), username=username,
        client_secret=client_secret,
    )


def password_login(issuer: str, username: str, password: str, client_id: str = CLI_CLIENT) -> Session:
    return _token_request(issuer, {
        "grant_type": "password", "client_id": client_id, "username": username, "password": password,
        "scope": "openid",
    }, username)


def client_credentials(issuer: str, client_id: str, client_secret: str) -> Session:
    return _token_request(issuer, {
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret,
    }, f"client:{client_id}", client_secret)


def device_login(issuer: str, show, client_id: str = CLI_CLIENT, timeout: float = 600) -> Session:
    """OAuth 2.0 device authorization: `show(url, code)` tells the user where to go."""
    endpoint = f"{issuer.rstrip('/')}/protocol/openid-connect/auth/device"
    try:
        response = httpx.post(endpoint, data={"client_id": client_id, "scope": "openid"}, timeout=15)
    except httpx.HTTPError as exc:
        raise LoginError(f"cannot reach the identity provider at {issuer}: {exc}") from None
    body = _json(response)
    if response.status_code != 200:
        raise LoginError(f"device login refused: {body.get('error_description') or body.get('error')}")
    show(body.get("verification_uri_complete") or body["verification_uri"], body["user_code"])
    interval = float(body.get("interval", 5))
    deadline = time.monotonic() + min(timeout, float(body.get("expires_in", timeout)))
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            return _token_request(issuer, {
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": client_id,
                "device_code": body["device_code"],
            })
        except LoginError as exc:
            if "authorization_pending" in str(exc) or "slow_down" in str(exc):
                interval += 5 if "slow_down" in str(exc) else 0
                continue
            raise
    raise LoginError("the device login was not completed in time; run `sentra login --device` again")


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
