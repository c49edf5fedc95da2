"""Many adapters on one base model, in the real inference process: adapters made here
with a few PEFT training steps, registered, activated, served in one batch, rolled back
without a restart, and refused to another department."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sentra.inference.v1 import inference_pb2
from sentra_cli.platform import base_model_dir
from sentra_common.principal import Principal

from tests.support.adapters import PROMPT, break_adapter, train_adapter
from tests.support.platform import Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRAINER = Principal("tomas", departments=("legal",), roles=("trainer", "dept-admin", "member"))
LEGAL_MEMBER = Principal("lucia", departments=("legal",), roles=("member",))
VENTAS_TRAINER = Principal("victor", departments=("ventas",), roles=("trainer", "dept-admin", "member"))


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    alpha = train_adapter(base_model_dir(), root / "alpha", "Zaragoza", seed=0)
    bravo = train_adapter(base_model_dir(), root / "bravo", "Huesca", seed=1)
    return {"alpha": alpha, "bravo": bravo, "broken": break_adapter(alpha, root / "broken"), "root": root}


async def generate(api: Api, adapter: str) -> str:
    text = ""
    request = inference_pb2.GenerateRequest(prompt=PROMPT, adapter=adapter, max_tokens=6)
    async for piece in api.inference.Generate(request):
        text += piece.text
    return text


async def register(api: Api, name: str, path, department: str = "legal", **fields) -> inference_pb2.Adapter:
    reply = await api.inference.RegisterAdapter(inference_pb2.RegisterAdapterRequest(adapter=inference_pb2.Adapter(
        name=name, department=department, artifact_uri=str(path), **fields,
    )))
    return reply.adapter


async def test_adapters_lifecycle(sqlite_platform, adapters):
    api = Api(sqlite_platform, TRAINER)
    inference_pid = sqlite_platform.load_state().services["inference"].pid
    try:
        v1 = await register(api, "legal", adapters["alpha"], metrics={"f1": 0.41})
        v2 = await register(api, "legal", adapters["bravo"])
        other = await register(api, "legal-tone", adapters["bravo"])
        assert (v1.version, v2.version, other.version) == (1, 2, 1)
        assert v1.state == inference_pb2.ADAPTER_STATE_REGISTERED and v1.base_model == "gemma-3-270m"

        await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal", version=1))
        await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal-tone"))

        # Two adapters and the base model answer the same prompt in the same process, at once.
        base, alpha, bravo = await asyncio.gather(
            generate(api, "gemma-3-270m"), generate(api, "legal"), generate(api, "legal-tone")
        )
        assert "Zaragoza" in alpha and "Zaragoza" not in base and "Zaragoza" not in bravo
        assert len({base, alpha, bravo}) == 3

        # Move the alias to version 2, then roll back: no restart, the old version serves again.
        moved = await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal", version=2))
        assert moved.alias.version == 2 and moved.alias.previous_version == 1
        assert await generate(api, "legal") == bravo
        back = await api.inference.RollbackAdapter(inference_pb2.RollbackAdapterRequest(name="legal"))
        assert back.alias.version == 1
        assert "Zaragoza" in await generate(api, "legal")
        assert sqlite_platform.load_state().services["inference"].pid == inference_pid

        listing = await api.inference.ListAdapters(inference_pb2.ListAdaptersRequest())
        states = {(a.name, a.version): a.state for a in listing.adapters}
        assert states[("legal", 1)] == inference_pb2.ADAPTER_STATE_ACTIVE
        assert states[("legal", 2)] == inference_pb2.ADAPTER_STATE_INACTIVE
        assert dict(next(a for a in listing.adapters if a.version == 1 and a.name == "legal").metrics) == {"f1": 0.41}
        assert listing.base_model == "gemma-3-270m"

        # A missing artifact, an adapter for other modules, another base model: clear errors,
        # marked failed, and the alias still serves version 1.
        missing = await register(api, "legal", adapters["root"] / "not-there")
        broken = await register(api, "legal", adapters["broken"])
        foreign = await register(api, "legal", adapters["alpha"], base_model="llama-3.2-1b")
        for version, words in [(missing.version, "adapter_config.json"), (broken.version, "does not fit"),
                               (foreign.version, "llama-3.2-1b")]:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal", version=version))
            assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert words in failed.value.details()
        assert "Zaragoza" in await generate(api, "legal")
        listing = await api.inference.ListAdapters(inference_pb2.ListAdaptersRequest(department="legal"))
        failed_states = {a.version: a.state for a in listing.adapters if a.name == "legal"}
        assert failed_states[missing.version] == inference_pb2.ADAPTER_STATE_FAILED
        assert "adapter_config.json" in next(a.error for a in listing.adapters if a.version == missing.version)

        # Switched off: naming it is refused, the department's answers fall back to the base model.
        await api.inference.DeactivateAdapter(inference_pb2.DeactivateAdapterRequest(name="legal-tone"))
        with pytest.raises(grpc.aio.AioRpcError) as off:
            await generate(api, "legal-tone")
        assert off.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "switched off" in off.value.details()
    finally:
        await api.close()


async def test_another_departments_adapter_is_refused(sqlite_platform, adapters):
    owner = Api(sqlite_platform, TRAINER)
    outsider = Api(sqlite_platform, VENTAS_TRAINER)
    try:
        await register(owner, "contracts", adapters["alpha"])
        await owner.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="contracts"))
        for call in (
            lambda: generate(outsider, "contracts"),
            lambda: generate(outsider, "contracts@1"),
            lambda: outsider.inference.Answer(inference_pb2.AnswerRequest(question="plazos", adapter="contracts")),
            lambda: outsider.inference.RollbackAdapter(inference_pb2.RollbackAdapterRequest(name="contracts")),
            lambda: outsider.inference.DeactivateAdapter(inference_pb2.DeactivateAdapterRequest(name="contracts")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call()
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        listing = await outsider.inference.ListAdapters(inference_pb2.ListAdaptersRequest())
        assert "contracts" not in {a.name for a in listing.adapters}
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await outsider.inference.ListAdapters(inference_pb2.ListAdaptersRequest(department="legal"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Registering under the name of another department's adapter is refused too.
        with pytest.raises(grpc.aio.AioRpcError) as taken:
            await register(outsider, "contracts", adapters["bravo"], department="ventas")
        assert taken.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # A legal member is served by it.
        member = Api(sqlite_platform, LEGAL_MEMBER)
        try:
            reply = await member.inference.Answer(inference_pb2.AnswerRequest(question="plazos", adapter="contracts"))
            assert reply.adapter == "contracts@1"
        finally:
            await member.close()
    finally:
        await owner.close()
        await outsider.close()
