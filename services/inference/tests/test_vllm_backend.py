"""The vLLM backend against the fake vLLM (`tests.support.fake_vllm`) running in the test's
event loop on loopback ports: streaming, adapters on several replicas, a replica that
restarts and forgets its adapters, replicas that are down."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest
from sentra_common.errors import InvalidArgument
from sentra_inference.adapters.vllm import VllmBackend, _error_of, resolve_a_records
from sentra_inference.domain.ports import (
    AdapterLoadError,
    BackendUnavailable,
    GenerationBackend,
    GenerationRequest,
    Message,
)

from tests.support.fake_vllm import FakeVllmServer, listed_adapters

SERVED = "google/gemma-3-270m"
QUESTION = "what does clause four say about notice periods"


@pytest.fixture
def adapter(tmp_path):
    """Writes an adapter directory (only adapter_config.json: the fake reads nothing else)."""

    def make(name: str, base: str = SERVED, root=None) -> str:
        directory = (root or tmp_path / "adapters") / name
        directory.mkdir(parents=True)
        config = {"base_model_name_or_path": base, "peft_type": "LORA", "r": 8, "target_modules": ["q_proj"]}
        (directory / "adapter_config.json").write_text(json.dumps(config))
        return str(directory)

    return make


@pytest.fixture
async def fakes():
    started: list[FakeVllmServer] = []

    async def start(count: int = 1, **options) -> list[FakeVllmServer]:
        servers = [FakeVllmServer(SERVED, **options) for _ in range(count)]
        for server in servers:
            await server.start()
        started.extend(servers)
        return servers

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def backend_for():
    backends: list[VllmBackend] = []

    def make(urls, *, interval: float = 3600, **options) -> VllmBackend:
        backend = VllmBackend(
            urls=urls, served_model=SERVED, base_model="gemma-3-270m", request_timeout_seconds=10,
            connect_timeout_seconds=2, reconcile_interval_seconds=interval, **options,
        )
        backends.append(backend)
        return backend

    yield make
    for backend in backends:
        await backend.close()


async def run(backend: VllmBackend, **request):
    chunks = [chunk async for chunk in backend.generate(GenerationRequest(**request))]
    return "".join(c.text for c in chunks), chunks




async def test_streams_a_chat_with_usage_in_the_last_chunk(fakes, backend_for):
    (a,) = await fakes()
    backend = backend_for([a.url])
    assert isinstance(backend, GenerationBackend)
    await backend.start()

    text, chunks = await run(backend, messages=(Message("system", "be brief"), Message("user", QUESTION)))

    assert text == f"[{SERVED}] echo: clause four say about notice periods"
    assert len([c for c in chunks if c.text]) > 1, "the text arrives in several deltas"
    final = chunks[-1]
    assert (final.text, final.finish_reason) == ("", "stop")
    assert final.completion_tokens == len(text.split())
    assert final.prompt_tokens == 2 + len(QUESTION.split())


async def test_a_consumer_may_stop_reading_early(fakes, backend_for):
    (a,) = await fakes()
    backend = backend_for([a.url])
    await backend.start()
    stream = backend.generate(GenerationRequest(prompt="one two three four five"))
    first = await anext(stream)
    await stream.aclose()
    assert first.text == "[google/gemma-3-270m]"
    text, _ = await run(backend, prompt="again")
    assert text == f"[{SERVED}] echo: again"


async def test_plain_completion_honours_max_tokens_and_stop(fakes, backend_for):
    (a,) = await fakes()
    backend = backend_for([a.url])
    await backend.start()

    text, chunks = await run(backend, prompt="the quick brown fox", max_tokens=3)
    assert text == f"[{SERVED}] echo: the"
    assert (chunks[-1].finish_reason, chunks[-1].completion_tokens, chunks[-1].prompt_tokens) == ("length", 3, 4)

    text, chunks = await run(backend, prompt="the quick brown fox", stop=("brown",))
    assert text == f"[{SERVED}] echo: the quick "
    assert chunks[-1].finish_reason == "stop"


async def test_a_loaded_adapter_serves_requests_by_name(fakes, backend_for, adapter):
    (a,) = await fakes()
    backend = backend_for([a.url])
    await backend.start()
    path = adapter("legal-3")

    await backend.load_adapter("legal@3", path)
    await backend.load_adapter("legal@3", path)  # idempotent

    assert await backend.loaded_adapters() == {"legal@3"}
    assert await listed_adapters(a.url) == {"legal@3": path}
    text, _ = await run(backend, messages=(Message("user", QUESTION),), adapter="legal@3")
    assert text.startswith("[legal@3] echo:")
    text, _ = await run(backend, prompt="hello", adapter="")
    assert text.startswith(f"[{SERVED}] echo:")


async def test_a_missing_or_incompatible_adapter_is_refused_and_changes_nothing(fakes, backend_for, adapter, tmp_path):
    a, b = await fakes(2)
    backend = backend_for([a.url, b.url])
    await backend.start()
    await backend.load_adapter("legal@3", adapter("legal-3"))

    with pytest.raises(AdapterLoadError, match="No adapter found") as missing:
        await backend.load_adapter("hr@1", str(tmp_path / "not-there"))
    assert "hr@1" in missing.value.message and missing.value.fields["replica"] == a.url

    with pytest.raises(AdapterLoadError, match=re.escape("trained for base model 'meta-llama/Llama-3.2-1B'")):
        await backend.load_adapter("llama@1", adapter("llama-1", base="meta-llama/Llama-3.2-1B"))

    assert await backend.loaded_adapters() == {"legal@3"}
    assert set(await listed_adapters(a.url)) == set(await listed_adapters(b.url)) == {"legal@3"}
    with pytest.raises(AdapterLoadError, match="adapter hr@1 is not loaded"):
        await run(backend, prompt="hi", adapter="hr@1")


async def test_two_replicas_both_get_the_adapter_or_neither_keeps_it(fakes, backend_for, adapter, tmp_path):
    # Relative adapter paths are looked up per replica: b's volume lacks finance-2.
    adapter("finance-2", root=tmp_path / "volume-a")
    (a,) = await fakes(lora_modules_dir=tmp_path / "volume-a")
    (b,) = await fakes(lora_modules_dir=tmp_path / "volume-b")
    backend = backend_for([a.url, b.url])
    await backend.start()

    path = adapter("legal-3")
    await backend.load_adapter("legal@3", path)
    assert await listed_adapters(a.url) == await listed_adapters(b.url) == {"legal@3": path}

    with pytest.raises(AdapterLoadError, match=f"finance@2 could not be loaded from finance-2 on vLLM replica {b.url}"):
        await backend.load_adapter("finance@2", "finance-2")
    assert await listed_adapters(a.url) == {"legal@3": path}, "a was rolled back"
    assert await backend.loaded_adapters() == {"legal@3"}

    await backend.unload_adapter("legal@3")
    await backend.unload_adapter("legal@3")  # unknown: fine
    assert await listed_adapters(a.url) == await listed_adapters(b.url) == {}


async def test_reconcile_loads_what_is_missing_and_unloads_the_rest(fakes, backend_for, adapter):
    a, b = await fakes(2)
    backend = backend_for([a.url, b.url])
    await backend.start()
    legal, finance, old = adapter("legal-3"), adapter("finance-2"), adapter("old-1")
    await backend.load_adapter("old@1", old)

    await backend.reconcile({"legal@3": legal, "finance@2": finance})

    for server in (a, b):
        assert await listed_adapters(server.url) == {"legal@3": legal, "finance@2": finance}
    assert await backend.loaded_adapters() == {"legal@3", "finance@2"}
    report = await backend.reconcile_now()
    assert not report.changed, "a second pass has nothing to do"

    # A refused adapter is reported; the others are applied all the same.
    with pytest.raises(AdapterLoadError, match="llama@1"):
        await backend.reconcile({"legal@3": legal, "llama@1": adapter("llama-1", base="meta-llama/Llama-3.2-1B")})
    assert await backend.loaded_adapters() == {"legal@3"}


async def test_the_loop_restores_adapters_on_a_restarted_replica(fakes, backend_for, adapter):
    a, b = await fakes(2)
    backend = backend_for([a.url, b.url], interval=0.05)
    await backend.start()
    path = adapter("legal-3")
    await backend.load_adapter("legal@3", path)

    await b.restart()  # a fresh server: nothing loaded (see the next test)

    # A pass that starts after the restart has put the adapter back.
    await asyncio.wait_for(backend.wait_for_reconcile(), 10)
    assert await listed_adapters(b.url) == {"legal@3": path}
    await a.stop()
    text, _ = await run(backend, prompt="hello there", adapter="legal@3")
    assert text == "[legal@3] echo: hello there"


async def test_a_request_on_a_restarted_replica_heals_it_before_the_loop_runs(fakes, backend_for, adapter):
    a, b = await fakes(2)
    backend = backend_for([a.url, b.url])  # the loop would run in an hour
    await backend.start()
    await backend.load_adapter("legal@3", adapter("legal-3"))
    await b.restart()
    assert await listed_adapters(b.url) == {}, "a restarted vLLM has forgotten its adapters"
    passes = backend.reconcile_passes

    # Round robin: two requests, one per replica.
    for _ in range(2):
        text, _ = await run(backend, prompt="hello", adapter="legal@3")
        assert text == "[legal@3] echo: hello"

    assert set(await listed_adapters(b.url)) == {"legal@3"}
    assert backend.reconcile_passes == passes, "healed by the request, not by the loop"


async def test_a_replica_that_cannot_reload_its_adapter_gives_a_clear_error(fakes, backend_for, adapter, tmp_path):
    adapter("legal-3", root=tmp_path / "volume")
    (a,) = await fakes(lora_modules_dir=tmp_path / "volume")
    backend = backend_for([a.url])
    await backend.start()
    await backend.load_adapter("legal@3", "legal-3")
    (tmp_path / "volume" / "legal-3" / "adapter_config.json").unlink()
    await a.restart()

    with pytest.raises(AdapterLoadError, match=f"legal@3 was missing on vLLM replica {a.url}.*No adapter found"):
        await run(backend, prompt="hello", adapter="legal@3")


async def test_a_replica_that_is_down_leaves_the_others_serving(fakes, backend_for, adapter):
    a, b = await fakes(2)
    backend = backend_for([a.url, b.url])
    await backend.start()
    await a.stop()

    for _ in range(3):
        text, _ = await run(backend, prompt="still here")
        assert text == f"[{SERVED}] echo: still here"

    # Adapters go to the replicas that answer; the loop brings a up to date when it is back.
    path = adapter("legal-3")
    await backend.load_adapter("legal@3", path)
    assert await backend.loaded_adapters() == {"legal@3"}
    await a.start()
    report = await backend.reconcile_now()
    assert report.loaded[a.url] == ["legal@3"]
    assert await listed_adapters(a.url) == {"legal@3": path}


async def test_no_replica_answering_is_backend_unavailable(fakes, backend_for):
    a, b = await fakes(2)
    backend = backend_for([a.url, b.url])
    await backend.start()
    await a.stop()
    await b.stop()

    with pytest.raises(BackendUnavailable, match="no vLLM replica answered at") as failure:
        await run(backend, prompt="anyone?")
    assert a.url in failure.value.message and b.url in failure.value.message
    assert "check the vLLM pods" in failure.value.message
    with pytest.raises(BackendUnavailable):
        await backend.loaded_adapters()

    with pytest.raises(BackendUnavailable, match="no vLLM replica answered"):
        await backend_for([a.url]).start()


async def test_the_loop_logs_replica_failures_and_keeps_running(fakes, backend_for, adapter, caplog):
    (a,) = await fakes()
    backend = backend_for([a.url], interval=0.01)
    await backend.start()
    await backend.load_adapter("legal@3", adapter("legal-3"))
    await a.stop()

    with caplog.at_level(logging.WARNING, logger="sentra_inference.adapters.vllm"):
        report = await asyncio.wait_for(backend.wait_for_reconcile(2), 10)
    assert report.unreachable == [a.url]
    assert any("unreachable during reconcile" in r.getMessage() for r in caplog.records)

    await a.start()
    await asyncio.wait_for(backend.wait_for_reconcile(), 10)
    assert set(await listed_adapters(a.url)) == {"legal@3"}


async def test_replicas_are_found_through_dns_at_each_pass(fakes, backend_for, adapter):
    """A headless Service: every A record is a pod; a new pod is found by the next pass."""
    (a,) = await fakes()
    (b,) = await fakes(host="127.0.0.2", port=a.port)
    addresses = ["127.0.0.1"]

    async def resolve(name: str, port: int) -> list[str]:
        assert (name, port) == ("vllm-headless.sentra.svc", a.port)
        return list(addresses)

    backend = backend_for([], dns_name="vllm-headless.sentra.svc", port=a.port, resolver=resolve)
    await backend.start()
    await backend.load_adapter("legal@3", adapter("legal-3"))
    assert await listed_adapters(b.url) == {}

    addresses.append("127.0.0.2")
    report = await backend.reconcile_now()
    assert report.replicas == [a.url, b.url]
    assert report.loaded == {a.url: [], b.url: ["legal@3"]}


async def test_the_default_resolver_returns_a_records():
    assert await resolve_a_records("localhost", 8000) == ["127.0.0.1"]


async def test_api_key_is_sent_and_a_wrong_one_is_explained(fakes, backend_for):
    (a,) = await fakes(api_key="s3cret")
    text, _ = await run(await _started(backend_for([a.url], api_key="s3cret")), prompt="hi")
    assert text == f"[{SERVED}] echo: hi"

    wrong = await _started(backend_for([a.url], api_key="nope"))  # /health needs no key
    with pytest.raises(BackendUnavailable, match="refused the API key"):
        await run(wrong, prompt="hi")


async def _started(backend: VllmBackend) -> VllmBackend:
    await backend.start()
    return backend


async def test_runtime_lora_loading_switched_off_in_vllm_is_explained(fakes, backend_for, adapter):
    (a,) = await fakes(allow_runtime_lora_updating=False)
    backend = backend_for([a.url])
    await backend.start()
    with pytest.raises(AdapterLoadError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
        await backend.load_adapter("legal@3", adapter("legal-3"))


async def test_a_request_vllm_rejects_is_invalid_argument(fakes, backend_for):
    (a,) = await fakes()
    backend = backend_for([a.url])
    await backend.start()
    with pytest.raises(InvalidArgument, match="rejected the request: max_tokens must be at least 1, got 0"):
        await run(backend, prompt="hi", max_tokens=0)


async def test_newer_vllm_refusing_an_adapter_with_500_is_an_adapter_error():
    """Newer vLLM answers 500 InternalServerError (nested error body) when an adapter's
    weights do not fit; that is vLLM's verdict, not a replica that is down."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200)
        if request.url.path == "/v1/load_lora_adapter":
            return httpx.Response(500, json={"error": {
                "message": "Loading lora llama@1 failed: size mismatch for lora_A", "type": "InternalServerError",
                "param": None, "code": 500}})
        return httpx.Response(404, json={"detail": "Not Found"})

    backend = VllmBackend(urls=["http://vllm-0:8000"], served_model=SERVED, base_model="gemma-3-270m",
                          transport=httpx.MockTransport(answer))
    try:
        await backend.start()
        with pytest.raises(AdapterLoadError, match="size mismatch for lora_A"):
            await backend.load_adapter("llama@1", "/adapters/llama-1")
    finally:
        await backend.close()


def test_both_vllm_error_shapes_are_read():
    old = httpx.Response(404, json={"object": "error", "message": "The model `x` does not exist.",
                                    "type": "NotFoundError", "param": "model", "code": 404})
    new = httpx.Response(404, json={"error": {"message": "The model `x` does not exist.", "type": "NotFoundError",
                                              "param": "model", "code": 404}})
    for response in (old, new):
        error = _error_of(response)
        assert (error.message, error.type, error.model_missing) == ("The model `x` does not exist.", "NotFoundError",
                                                                    True)
    assert _error_of(httpx.Response(401, json={"error": "Unauthorized"})).message == "Unauthorized"
    assert _error_of(httpx.Response(502, text="bad gateway")).message == "bad gateway"
