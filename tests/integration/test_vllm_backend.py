"""The vLLM backend against fake vLLM servers running as separate processes
(`python -m tests.support.fake_vllm`), started and stopped by PID: a crash that makes a
replica forget its adapters, a replica down, all replicas down."""

from __future__ import annotations

import asyncio
import json

import pytest
from sentra_inference.adapters.vllm import VllmBackend
from sentra_inference.domain.ports import AdapterLoadError, BackendUnavailable, GenerationRequest, Message

from tests.support.fake_vllm import FakeVllmProcess, listed_adapters

pytestmark = pytest.mark.integration

SERVED = "google/gemma-3-270m"


@pytest.fixture
def adapter(tmp_path):
    def make(name: str, base: str = SERVED) -> str:
        directory = tmp_path / "adapters" / name
        directory.mkdir(parents=True)
        (directory / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "r": 8}))
        return str(directory)

    return make


@pytest.fixture
def replicas(tmp_path):
    """Two fake vLLM processes."""
    procs = [FakeVllmProcess(SERVED, tmp_path / "run", name=f"vllm-{i}") for i in range(2)]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


@pytest.fixture
async def backend_for():
    backends: list[VllmBackend] = []

    async def make(procs, *, interval: float = 3600) -> VllmBackend:
        backend = VllmBackend(
            urls=[p.url for p in procs], served_model=SERVED, base_model="gemma-3-270m",
            request_timeout_seconds=10, connect_timeout_seconds=2, reconcile_interval_seconds=interval,
        )
        backends.append(backend)
        await backend.start()
        return backend

    yield make
    for backend in backends:
        await backend.close()


async def run(backend: VllmBackend, **request):
    chunks = [chunk async for chunk in backend.generate(GenerationRequest(**request))]
    return "".join(c.text for c in chunks), chunks




async def test_streamed_chat_and_completion(replicas, backend_for):
    backend = await backend_for(replicas[:1])

    text, chunks = await run(backend, messages=(Message("user", "summarise the leave policy please"),))
    assert text == f"[{SERVED}] echo: summarise the leave policy please"
    assert len([c for c in chunks if c.text]) > 1
    assert (chunks[-1].finish_reason, chunks[-1].completion_tokens, chunks[-1].prompt_tokens) == ("stop", 7, 5)

    text, chunks = await run(backend, prompt="one two three four", max_tokens=4, stop=("four",))
    assert text == f"[{SERVED}] echo: one two"
    assert chunks[-1].finish_reason == "length"


async def test_adapters_on_two_replicas(replicas, backend_for, adapter, tmp_path):
    backend = await backend_for(replicas)
    path = adapter("legal-3")

    await backend.load_adapter("legal@3", path)
    assert [await listed_adapters(p.url) for p in replicas] == [{"legal@3": path}] * 2
    for _ in range(2):  # one request per replica
        text, _ = await run(backend, prompt="notice period", adapter="legal@3")
        assert text == "[legal@3] echo: notice period"

    with pytest.raises(AdapterLoadError, match="No adapter found"):
        await backend.load_adapter("hr@1", str(tmp_path / "missing"))
    with pytest.raises(AdapterLoadError, match="trained for base model"):
        await backend.load_adapter("llama@1", adapter("llama-1", base="meta-llama/Llama-3.2-1B"))
    assert await backend.loaded_adapters() == {"legal@3"}

    await backend.unload_adapter("legal@3")
    assert [await listed_adapters(p.url) for p in replicas] == [{}] * 2


async def test_a_crashed_replica_gets_its_adapters_back_from_the_loop(replicas, backend_for, adapter):
    a, b = replicas
    backend = await backend_for(replicas, interval=0.1)
    path = adapter("legal-3")
    await backend.load_adapter("legal@3", path)

    b.kill()
    b.start()  # same port, fresh process

    await asyncio.wait_for(backend.wait_for_reconcile(), 20)
    assert await listed_adapters(b.url) == {"legal@3": path}
    a.stop()
    text, _ = await run(backend, prompt="served by b", adapter="legal@3")
    assert text == "[legal@3] echo: served by b"


async def test_a_request_on_a_crashed_replica_heals_it(replicas, backend_for, adapter):
    _, b = replicas
    backend = await backend_for(replicas)  # the loop would run in an hour
    await backend.load_adapter("legal@3", adapter("legal-3"))
    b.kill()
    b.start()
    assert await listed_adapters(b.url) == {}, "the new process has forgotten the adapter"

    for _ in range(2):  # round robin: one request per replica
        text, _ = await run(backend, prompt="hello", adapter="legal@3")
        assert text == "[legal@3] echo: hello"
    assert set(await listed_adapters(b.url)) == {"legal@3"}


async def test_replicas_down(replicas, backend_for):
    a, b = replicas
    backend = await backend_for(replicas)

    a.kill()
    for _ in range(3):
        text, _ = await run(backend, prompt="still serving")
        assert text == f"[{SERVED}] echo: still serving"

    b.kill()
    with pytest.raises(BackendUnavailable, match=f"no vLLM replica answered at .*{b.port}.*check the vLLM pods"):
        await run(backend, prompt="anyone?")
