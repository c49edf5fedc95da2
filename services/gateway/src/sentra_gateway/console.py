"""The web console, served by the gateway at /console/ on its HTTP port.

The console is a single-page app (TypeScript, built from `console/` with Vite by `make
setup` into `console_static/` beside this module). It lives on the API's origin, so it
calls the HTTP API with the person's access token and needs no CORS; the gateway checks
every one of its calls as it checks any other (permission table, departments, audit).

- `/console/config.json`: how to log in — the realm's endpoints for the authorization-code
  flow with PKCE of the public client `sentra-console`, or that this gateway runs its
  development identity — and the permission table (which roles may call which method), so
  the console shows only the actions a person's roles allow;
- any other path under /console/ is a built file, or the app itself (its own screens,
  /console/documents, /console/callback …, so a reload or a shared link works);
- every response carries a strict Content-Security-Policy: scripts, styles, images and
  fonts from this origin only and no inline code; fetches to this origin and the realm
  (the token endpoint); no framing, no plugins, no <base>.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from sentra_gateway.auth import SENTRA_ROLES
from sentra_gateway.config import AuthSettings, ConsoleSettings
from sentra_gateway.routes import Route

STATIC_DIR = Path(__file__).parent / "console_static"
PREFIX = "/console/"
NOT_BUILT = (
    "The web console is not built on this machine: run `make setup` (it runs `npm ci && npm run build` "
    "in console/), or point SENTRA_GATEWAY_CONSOLE__STATIC_DIR at a built copy."
)
IMMUTABLE = "public, max-age=31536000, immutable"  # hashed file names under assets/


def realm_origin(auth: AuthSettings) -> str:
    """scheme://host[:port] of the realm the browser talks to (empty in development mode)."""
    if auth.mode != "keycloak" or not auth.issuer:
        return ""
    parts = urlsplit(auth.issuer)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(auth: AuthSettings) -> str:
    realm = realm_origin(auth)
    connect = f"'self' {realm}".strip()
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        f"connect-src {connect}",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ))


def security_headers(auth: AuthSettings, cache: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(auth),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cache-Control": cache,
    }


def console_config(settings: ConsoleSettings, auth: AuthSettings, routes: dict[str, Route]) -> dict[str, Any]:
    """What the console needs to know before anyone logs in (nothing secret)."""
    issuer = auth.issuer.rstrip("/") if auth.mode == "keycloak" else ""
    oidc = f"{issuer}/protocol/openid-connect" if issuer else ""
    return {
        "identity_mode": auth.mode,
        "issuer": issuer,
        "client_id": settings.client_id,
        "authorization_endpoint": f"{oidc}/auth" if oidc else "",
        "token_endpoint": f"{oidc}/token" if oidc else "",
        "end_session_endpoint": f"{oidc}/logout" if oidc else "",
        # "IngestionService.DeleteDocument" → roles allowed; empty: anyone logged in.
        "permissions": {
            f"{route.service.rsplit('.', 1)[-1]}.{route.name}": sorted(route.roles) for route in routes.values()
        },
        "roles": list(SENTRA_ROLES),
    }


def _is_file_name(path: str) -> bool:
    """A path that names a file (assets/…, favicon.svg), not one of the app's screens."""
    return path.startswith("assets/") or "." in PurePosixPath(path).name


def mount(app: FastAPI, settings: ConsoleSettings, auth: AuthSettings, routes: dict[str, Route]) -> None:
    if not settings.enabled:
        return
    root = (settings.static_dir or STATIC_DIR).resolve()
    config = console_config(settings, auth, routes)

    def file(target: Path, cache: str) -> Response:
        return FileResponse(target, headers=security_headers(auth, cache))

    @app.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse(PREFIX, status_code=307)

    @app.get("/console", include_in_schema=False)
    async def console_root() -> Response:
        return RedirectResponse(PREFIX, status_code=308)

    @app.get("/console/config.json", include_in_schema=False)
    async def console_config_json() -> Response:
        return JSONResponse(config, headers=security_headers(auth, "no-store"))

    @app.api_route("/console/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def console_file(path: str) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503, headers=security_headers(auth, "no-store"))
        if path:
            target = (root / path).resolve()
            hidden = any(part.startswith(".") for part in PurePosixPath(path).parts)  # .sentra-source
            if not hidden and target.is_relative_to(root) and target.is_file():
                return file(target, IMMUTABLE if path.startswith("assets/") else "no-cache")
            if _is_file_name(path):
                return PlainTextResponse("not found", status_code=404, headers=security_headers(auth, "no-store"))
        return file(index, "no-cache")
