"""The web console in a real browser — Debian's Chromium driven by Playwright — against a
real platform with Keycloak (one for the whole module): people log in on Keycloak's own
login page (authorization code + PKCE), upload by dropping files and watch them go
PROCESSING → INDEXED, ask and open a citation at its place in the document, and see only
what their department and role allow, while the gateway refuses what the page hides.

Tests run in file order (the upload comes before the questions about it).

`SENTRA_CONSOLE_SCREENSHOTS=docs/screenshots pytest tests/integration/test_console.py`
also saves the main screens there (the README links them)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sentra_cli import keycloak
from sentra_cli.admin import RealmAdmin
from sentra_cli.platform import Platform, base_model_dir
from sentra_cli.session import password_login
from sentra_gateway import console as console_module

from tests.support.identity import PASSWORD, seed
from tests.support.platform import TEST_ENV

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = os.environ.get("SENTRA_CONSOLE_SCREENSHOTS", "")
VIEWPORT = {"width": 1280, "height": 800}

TELETRABAJO = """# Política de teletrabajo

## Días de teletrabajo

La plantilla de oficinas teletrabaja 2 días por semana, que acuerda con su responsable cada lunes.

## Equipos

La empresa entrega un portátil y una silla ergonómica a quien teletrabaje.
"""
HORARIO = "Horario de verano\n\nEl horario de verano empieza el 15 de junio y termina el 15 de septiembre.\n"
REGLAMENTO = """# Reglamento de firma de contratos

Los contratos de más de 50.000 euros los firman dos apoderados de la dirección jurídica.
"""
NOMINAS = """# Calendario de nóminas

Las nóminas de la plantilla se pagan el día 28 de cada mes por transferencia bancaria.
"""


@dataclass
class Console:
    platform: Platform
    admin: RealmAdmin
    base: str
    issuer: str
    legal_document: str  # reglamento_firma.md, uploaded by ana (legal, dept-admin)
    rrhh_document: str  # calendario_nominas.md, uploaded by bruno (rrhh, dept-admin)
    uploaded: dict[str, str] = field(default_factory=dict)  # title → document id, by the console


def _upload(base: str, issuer: str, username: str, filename: str, text: str, department: str) -> str:
    """Upload through the HTTP API as `username` and wait until INDEXED; the document id."""
    token = password_login(issuer, username, PASSWORD).access_token
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        reply = http.post("/api/v1/documents", data={"department": department},
                          files={"file": (filename, text.encode(), "text/markdown")})
        reply.raise_for_status()
        document_id = reply.json()["document"]["document_id"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            state = http.get(f"/api/v1/documents/{document_id}").json()["document"]["state"]
            if state == "DOCUMENT_STATE_INDEXED":
                return document_id
            assert state != "DOCUMENT_STATE_FAILED", f"{filename} failed"
            time.sleep(0.5)
    raise AssertionError(f"{filename} was not indexed in time")


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    keycloak.install()
    platform = Platform(
        tmp_path_factory.mktemp("console-platform"), identity="keycloak",
        extra_env={**TEST_ENV, "SENTRA_GATEWAY_RATE_LIMIT__REQUESTS_PER_SECOND": "1000",
                   "SENTRA_GATEWAY_RATE_LIMIT__BURST": "2000"},
    )
    try:
        platform.up(timeout=300)
        admin, _ = seed(platform)
        state = platform.load_state()
        base, issuer = f"http://127.0.0.1:{state.http_port}", state.identity.issuer
        legal = _upload(base, issuer, "ana", "reglamento_firma.md", REGLAMENTO, "legal")
        rrhh = _upload(base, issuer, "bruno", "calendario_nominas.md", NOMINAS, "rrhh")
        yield Console(platform, admin, base, issuer, legal, rrhh)
    finally:
        platform.down()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is not installed: run `make setup` (it installs the chromium package)")
    if not (console_module.STATIC_DIR / "index.html").exists():
        pytest.fail(console_module.NOT_BUILT)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


def shot(page: Page, name: str) -> None:
    """Save a screen for the README when SENTRA_CONSOLE_SCREENSHOTS names a directory."""
    if SCREENSHOTS:
        from PIL import Image  # Pillow: a palette of 64 colours keeps a screen's PNG near 30 KB

        path = Path(SCREENSHOTS) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


def log_in(browser: Browser, console: Console, username: str) -> Page:
    """A fresh browser profile logging in through Keycloak's login page."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    page.goto(f"{console.base}/console/")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{console.issuer}/**")  # Keycloak's own page: the console never sees the password
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#kc-login").click()
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
    assert page.url.startswith(f"{console.base}/console/")
    return page


# Anything the page's Content-Security-Policy blocks (an inline style, a script from elsewhere).
CSP_WATCH = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"""


def close(page: Page) -> None:
    """Close the page's browser profile; nothing the console did broke its own policy."""
    if "/console/" in page.url:  # not Keycloak's own pages
        assert page.evaluate("window.cspViolations ?? []") == []
    page.context.close()


def authorization_of(page: Page) -> str:
    """The Authorization header the page sends (its token lives only in the page's memory)."""
    with page.expect_request(lambda r: "/api/v1/" in r.url) as request:
        page.get_by_role("button", name="Refresh").click()
    return request.value.headers["authorization"]


def fetch(page: Page, method: str, path: str, authorization: str) -> dict:
    return page.evaluate(
        """async ([method, path, authorization]) => {
            const reply = await fetch(path, {method, headers: {Authorization: authorization}});
            return {status: reply.status, body: await reply.text()};
        }""",
        [method, path, authorization],
    )


# Logging in -----------------------------------------------------------------------------


def test_login_through_keycloak_and_the_console_in_two_languages(console, browser):
    page = log_in(browser, console, "ana")
    expect(page.get_by_test_id("who")).to_contain_text("department admin")
    nav = page.get_by_role("navigation")
    for screen in ("Documents", "Ask", "Adapters", "Datasets", "Training jobs", "Audit log"):
        expect(nav.get_by_role("link", name=screen)).to_be_visible()
    expect(page.locator(f'tr[data-document-id="{console.legal_document}"]')).to_be_visible()

    page.get_by_label("Language").select_option("es")
    expect(page.get_by_role("heading", name="Documentos", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Preguntar")).to_be_visible()
    shot(page, "documents-es")
    page.get_by_label("Idioma").select_option("en")
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
    close(page)


# Upload, states, stage log ------------------------------------------------------------------


def test_dropped_files_upload_with_progress_and_go_processing_then_indexed(console, browser):
    page = log_in(browser, console, "ana")
    # Every state each row shows, as the page renders it (by document id: a title can change
    # once the document is parsed).
    page.evaluate("""() => {
        window.seenStates = [];
        const seen = (row) => window.seenStates.push([row.dataset.documentId, row.dataset.state]);
        new MutationObserver((changes) => {
            for (const change of changes) {
                if (change.type === 'attributes') seen(change.target);
                for (const node of change.addedNodes) {
                    if (node.nodeType !== 1) continue;
                    if (node.matches('tr[data-state]')) seen(node);
                    node.querySelectorAll('tr[data-state]').forEach(seen);
                }
            }
        }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']});
    }""")
    files = page.evaluate_handle(
        """([a, b]) => {
            const files = new DataTransfer();
            files.items.add(new File([a], 'teletrabajo.md', {type: 'text/markdown'}));
            files.items.add(new File([b], 'horario_verano.txt', {type: 'text/plain'}));
            return files;
        }""",
        [TELETRABAJO, HORARIO],
    )
    page.get_by_test_id("dropzone").dispatch_event("drop", {"dataTransfer": files})

    uploads = page.get_by_role("list", name="Uploads")
    for name in ("teletrabajo.md", "horario_verano.txt"):
        item = uploads.locator(f'li[data-upload="{name}"]')
        expect(item.get_by_role("progressbar", name=f"Upload of {name}")).to_be_visible()
        expect(item).to_have_attribute("data-phase", "done", timeout=60_000)
        expect(item).to_contain_text("Uploaded; its state is in the list")
    for title in ("Política de teletrabajo", "horario_verano"):
        row = page.locator("tr[data-document-id]", has=page.get_by_role("button", name=title, exact=True))
        expect(row).to_have_attribute("data-state", "INDEXED", timeout=180_000)
        console.uploaded[title] = row.get_attribute("data-document-id")
    seen = page.evaluate("window.seenStates")
    for title, document_id in console.uploaded.items():
        states = [state for shown, state in seen if shown == document_id]
        assert "PROCESSING" in states and states[-1] == "INDEXED", (title, states)
        assert states.index("PROCESSING") < states.index("INDEXED")
    shot(page, "upload")

    page.get_by_role("button", name="Política de teletrabajo", exact=True).click()
    log = page.get_by_role("table", name="What happened to it, stage by stage")
    for stage in ("upload", "parse", "embed", "index"):
        expect(log.get_by_role("cell", name=stage, exact=True).first).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "teletrabajo.md"
    assert Path(download.value.path()).read_text() == TELETRABAJO
    shot(page, "documents")
    close(page)


def test_a_failed_document_says_why_and_an_admin_retries_it(console, browser):
    page = log_in(browser, console, "ana")
    page.get_by_label("choose files").set_input_files(
        [{"name": "relleno.txt", "mimeType": "text/plain", "buffer": b"lorem " * 5000}])
    row = page.locator("tr[data-document-id]", has=page.get_by_role("button", name="relleno", exact=True))
    expect(row).to_have_attribute("data-state", "FAILED", timeout=180_000)
    expect(row).to_contain_text("lorem")  # the reason, in the list
    row.get_by_role("button", name="relleno").click()
    expect(page.locator(".details .message.error")).to_contain_text("Failed at quality")
    failures = page.get_by_role("table", name="What happened to it, stage by stage").locator("tr.failed")
    expect(failures).to_have_count(1)
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("relleno is being processed again")
    expect(failures).to_have_count(2, timeout=180_000)  # it ran again, and failed again for the same reason
    expect(row).to_have_attribute("data-state", "FAILED")
    close(page)


# Asking ----------------------------------------------------------------------------------


def test_a_streamed_answer_with_a_citation_that_opens_the_document_at_its_place(console, browser):
    page = log_in(browser, console, "ana")
    page.get_by_role("navigation").get_by_role("link", name="Ask").click()
    page.get_by_label("Question").fill("¿Cuántos días por semana teletrabaja la plantilla de oficinas?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.get_by_test_id("answer")
    expect(answer).to_have_attribute("aria-live", "polite")
    expect(answer).to_have_attribute("aria-busy", "false", timeout=180_000)
    expect(answer).to_contain_text("2 días")
    source = page.locator("button.citation").first
    expect(source).to_contain_text("teletrabaja 2 días por semana")
    expect(source).to_contain_text("Política de teletrabajo")
    expect(source).to_contain_text("Días de teletrabajo")  # the heading it is under
    shot(page, "ask")

    source.focus()  # by keyboard: Enter opens the source, Escape closes it and gives the focus back
    page.keyboard.press("Enter")
    viewer = page.get_by_role("dialog", name="Política de teletrabajo")
    expect(viewer).to_be_visible()
    cited = viewer.locator(".chunk.cited")
    expect(cited).to_be_focused()
    expect(cited.locator("mark")).to_contain_text("La plantilla de oficinas teletrabaja 2 días por semana")
    expect(viewer).to_contain_text("La empresa entrega un portátil")  # the rest of the document is there too
    shot(page, "citation")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(source).to_be_focused()
    # The "[1]" in the answer opens the same place.
    answer.get_by_role("button", name="Open source 1").first.click()
    expect(page.get_by_role("dialog").locator(".chunk.cited mark")).to_be_visible()
    close(page)


# Roles and departments -------------------------------------------------------------------


def test_a_member_has_no_delete_and_a_forged_delete_is_refused(console, browser):
    page = log_in(browser, console, "dani")  # legal, member
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Ask")).to_be_visible()
    for screen in ("Audit log", "Datasets", "Training jobs"):
        expect(nav.get_by_role("link", name=screen)).to_have_count(0)
    expect(page.get_by_role("heading", name="Upload documents")).to_have_count(0)
    row = page.locator(f'tr[data-document-id="{console.legal_document}"]')
    row.get_by_role("button").click()
    expect(page.get_by_role("button", name="Download")).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    shot(page, "member")

    forged = fetch(page, "DELETE", f"/api/v1/documents/{console.legal_document}", authorization_of(page))
    assert forged["status"] == 403, forged
    assert "dept-admin" in forged["body"]
    page.reload()  # a new login-free load: tokens were in memory only
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    close(page)

    page = log_in(browser, console, "ana")
    expect(page.locator(f'tr[data-document-id="{console.legal_document}"]')).to_be_visible()  # still there
    page.get_by_role("navigation").get_by_role("link", name="Audit log").click()
    page.get_by_label("Result").fill("PERMISSION_DENIED")
    page.get_by_role("button", name="Filter").click()
    refused = page.locator("table.audit tbody tr", has_text="dani").filter(has_text="DeleteDocument")
    expect(refused.first).to_be_visible()
    shot(page, "audit")
    close(page)


def test_another_departments_document_never_appears(console, browser):
    page = log_in(browser, console, "ana")  # legal only
    rows = page.locator("tr[data-document-id]")
    expect(rows.first).to_be_visible()
    listed = rows.evaluate_all("rows => rows.map(r => r.dataset.documentId)")
    assert console.rrhh_document not in listed and console.legal_document in listed
    assert "Calendario de nóminas" not in page.locator("main").inner_text()
    options = page.get_by_label("Department").first.locator("option").all_inner_texts()
    assert "rrhh" not in options
    authorization = authorization_of(page)
    for path in (f"/api/v1/documents/{console.rrhh_document}", f"/api/v1/documents/{console.rrhh_document}/text",
                 f"/api/v1/documents/{console.rrhh_document}/content"):
        reply = fetch(page, "GET", path, authorization)
        assert reply["status"] in (403, 404), (path, reply)
        assert "día 28" not in reply["body"]

    page.get_by_role("navigation").get_by_role("link", name="Ask").click()
    page.get_by_label("Question").fill("¿Qué día se pagan las nóminas de la plantilla?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.get_by_test_id("answer")
    expect(answer).to_have_attribute("aria-busy", "false", timeout=180_000)
    assert "28" not in answer.inner_text()
    assert "nóminas" not in " ".join(page.locator("button.citation").all_inner_texts()).lower()
    close(page)


# Adapters, datasets, jobs ------------------------------------------------------------------


def _untrained_adapter(out_dir: Path) -> None:
    """A LoRA adapter of the base model as PEFT saves it (untrained: what the screen does with
    it is the point, not what it generates)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_model_dir(), dtype=torch.float32)
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(out_dir)


def _as(console: Console, username: str) -> httpx.Client:
    token = password_login(console.issuer, username, PASSWORD).access_token
    return httpx.Client(base_url=console.base, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def test_adapters_are_activated_rolled_back_and_switched_off_by_an_admin_only(console, browser):
    legal = console.platform.adapter_root / "legal"
    _untrained_adapter(legal / "v1")
    shutil.copytree(legal / "v1", legal / "v2")
    with _as(console, "root") as http:  # platform admin: registers
        for version, f1 in (("v1", 0.41), ("v2", 0.47)):
            reply = http.post("/api/v1/rpc/sentra.inference.v1.InferenceService/RegisterAdapter", json={
                "adapter": {"name": "legal", "department": "legal", "artifact_uri": version, "metrics": {"f1": f1}}})
            assert reply.status_code == 200, reply.text

    page = log_in(browser, console, "dani")  # a member sees them, and no action
    page.get_by_role("navigation").get_by_role("link", name="Adapters").click()
    expect(page.get_by_role("cell", name="legal@2", exact=True)).to_be_visible()
    expect(page.locator("main").get_by_role("button")).to_have_count(0)
    close(page)

    page = log_in(browser, console, "ana")
    page.get_by_role("navigation").get_by_role("link", name="Adapters").click()
    serving = page.locator("table").filter(has=page.get_by_role("columnheader", name="Serves"))

    def activate(label: str) -> None:
        page.get_by_role("row").filter(has=page.get_by_role("cell", name=label, exact=True)).get_by_role(
            "button", name="Activate").click()
        expect(serving.get_by_role("cell", name=label, exact=True)).to_be_visible(timeout=180_000)

    activate("legal@1")
    activate("legal@2")
    expect(serving.get_by_role("cell", name="legal@1", exact=True)).to_be_visible()  # what it rolls back to
    shot(page, "adapters")
    serving.get_by_role("button", name="Roll back to v1").click()
    expect(serving.get_by_role("row").nth(1).get_by_role("cell").nth(2)).to_have_text("legal@1", timeout=60_000)
    serving.get_by_role("button", name="Switch off").click()
    expect(serving).to_contain_text("switched off", timeout=60_000)
    close(page)


def test_dataset_items_are_reviewed_and_edited_and_the_job_list_opens(console, browser):
    lines = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in (
        ("¿Quién firma los contratos de más de 50.000 euros?", "Dos apoderados de la dirección jurídica."),
        ("¿Cuántos días se teletrabaja?", "Cinco."),
        ("¿Cuándo empieza el horario de verano?", "El 15 de junio."),
    )]
    with _as(console, "ana") as http:
        reply = http.post("/api/v1/datasets/import", data={"department": "legal"},
                          files={"file": ("revision.jsonl", "\n".join(json.dumps(x) for x in lines).encode())})
        assert reply.status_code == 200, reply.text

    page = log_in(browser, console, "ana")
    page.get_by_role("navigation").get_by_role("link", name="Datasets").click()
    page.get_by_role("button", name="legal v1").click()
    items = page.locator("tr[data-item-id]")
    expect(items).to_have_count(3)

    def row(question: str):
        return items.filter(has_text=question)

    row("apoderados").get_by_role("button", name="Approve").click()
    expect(row("apoderados")).to_have_count(0)  # the list shows pending items
    row("se teletrabaja").get_by_role("button", name="Reject").click()
    expect(row("se teletrabaja")).to_have_count(0)
    edited = page.locator(f'tr[data-item-id="{row("horario de verano").get_attribute("data-item-id")}"]')
    edited.get_by_role("button", name="Edit").click()
    edited.get_by_label("Answer").fill("El 15 de junio, hasta el 15 de septiembre.")
    edited.get_by_role("button", name="Save").click()
    expect(edited).to_contain_text("hasta el 15 de septiembre")
    expect(edited).to_contain_text("edited")
    expect(page.get_by_role("row", name="legal v1")).to_contain_text("1 pending · 1 approved · 1 rejected")
    shot(page, "datasets")

    page.get_by_label("Status").select_option("approved")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("apoderados")

    page.get_by_role("navigation").get_by_role("link", name="Training jobs").click()
    expect(page.get_by_role("heading", name="Training jobs", exact=True)).to_be_focused()
    expect(page.get_by_text("No training jobs yet.")).to_be_visible()
    expect(page.locator(".message.error")).to_have_count(0)
    close(page)


# Addresses and logging out ---------------------------------------------------------------


def test_tokens_are_refreshed_a_screens_address_survives_a_reload_and_logout_ends_the_session(console, browser):
    # Access tokens of 35 s: the console refreshes them 30 s before they expire.
    client_id = console.admin.kc.get_client_id("sentra-console")
    client_ = console.admin.kc.get_client(client_id)
    console.admin.kc.update_client(client_id, {
        **client_, "attributes": {**client_["attributes"], "access.token.lifespan": "35"}})
    page = log_in(browser, console, "ana")
    first = authorization_of(page)
    with page.expect_response(lambda r: r.url.endswith("/protocol/openid-connect/token")
                              and "grant_type=refresh_token" in (r.request.post_data or ""), timeout=30_000) as reply:
        pass
    assert reply.value.ok
    refreshed = authorization_of(page)
    for _ in range(20):  # the page takes the new token once it has read the reply
        if refreshed != first:
            break
        page.wait_for_timeout(100)
        refreshed = authorization_of(page)
    assert refreshed != first
    expect(page.locator(".message.error")).to_have_count(0)
    assert fetch(page, "GET", "/api/v1/whoami", refreshed)["status"] == 200

    page.get_by_role("navigation").get_by_role("link", name="Training jobs").click()
    assert page.url == f"{console.base}/console/jobs"
    page.reload()  # tokens were in memory only: log in again, silently while Keycloak's session lasts
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Training jobs", exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#username")).to_be_visible()  # the realm's session ended with the logout
    close(page)


# The development identity ------------------------------------------------------------------


@contextlib.contextmanager
def development_gateway(tmp_path: Path):
    """The gateway's HTTP side in its development identity (no Keycloak, no services behind
    it: WhoAmI is answered by the gateway itself), with the built console, on a free port."""
    import asyncio
    import threading

    import uvicorn
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from prometheus_client import CollectorRegistry
    from sentra_common.db import create_engine, migrate
    from sentra_common.identity import AssertionSigner
    from sentra_common.metrics import ServiceMetrics
    from sentra_gateway import local
    from sentra_gateway.app import MIGRATIONS
    from sentra_gateway.audit import AuditLog
    from sentra_gateway.auth import Authenticator
    from sentra_gateway.config import AuthSettings, ConsoleSettings, RateLimitSettings
    from sentra_gateway.core import Gateway
    from sentra_gateway.http_api import create_http_app
    from sentra_gateway.ratelimit import RateLimiter
    from sentra_gateway.routes import build_routes

    ready, started = threading.Event(), {}

    async def serve() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
        await migrate(engine, MIGRATIONS, "alembic_version_gateway")
        audit = AuditLog(engine)
        auth = AuthSettings(mode="development")
        gateway = Gateway(build_routes(), Authenticator(auth), RateLimiter(RateLimitSettings()), audit,
                          AssertionSigner(Ed25519PrivateKey.generate(), "gateway"), {},
                          ServiceMetrics("console-test", registry=CollectorRegistry()))
        local.install(gateway, audit)
        app = create_http_app(gateway)
        console_module.mount(app, ConsoleSettings(), auth, gateway.routes)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off"))
        started["server"] = server
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                return
            await asyncio.sleep(0.05)
        started["port"] = server.servers[0].sockets[0].getsockname()[1]
        ready.set()
        await task
        await gateway.authenticator.close()
        await engine.dispose()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the development gateway did not start"
    try:
        yield f"http://127.0.0.1:{started['port']}"
    finally:
        started["server"].should_exit = True
        thread.join(10)


def test_the_development_identity_is_picked_in_a_form_and_said_on_every_screen(browser, tmp_path):
    with development_gateway(tmp_path) as base:
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        context.add_init_script(CSP_WATCH)
        page = context.new_page()
        page.goto(f"{base}/console/")
        expect(page.get_by_role("note")).to_contain_text("development identity")
        expect(page.get_by_role("button", name="Log in")).to_have_count(0)  # no Keycloak here
        page.get_by_label("User").fill("carmen")
        page.get_by_label("Departments (comma-separated)").fill("ventas")
        page.get_by_label("Role").select_option("trainer")
        with page.expect_request(lambda r: r.url.endswith("/api/v1/whoami")) as whoami:
            page.get_by_role("button", name="Enter").click()
        assert whoami.value.headers["x-sentra-dev-identity"] == "carmen:ventas:trainer"
        assert "authorization" not in whoami.value.headers
        expect(page.get_by_test_id("who")).to_contain_text("carmen · trainer · ventas")
        expect(page.get_by_role("note")).to_contain_text("carmen:ventas:trainer")
        nav = page.get_by_role("navigation")
        expect(nav.get_by_role("link", name="Datasets")).to_be_visible()  # a trainer's screens
        expect(nav.get_by_role("link", name="Audit log")).to_have_count(0)
        close(page)
