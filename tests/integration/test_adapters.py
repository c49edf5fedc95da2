"""Many adapters on one base model, in the real inference process: adapters made here
with a few PEFT training steps, registered, activated, served in one batch, rolled back
without a restart, and refused to another department; artifacts confined to their
department's directory under the adapter root and refused when changed after registration."""

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
def adapters(sqlite_platform):
    """Adapters trained into the legal department's directory under the platform's adapter root."""
    root = sqlite_platform.adapter_root
    legal = root / "legal"
    alpha = train_adapter(base_model_dir(), legal / "alpha", "Zaragoza", seed=0)
    bravo = train_adapter(base_model_dir(), legal / "bravo", "Huesca", seed=1)
    return {"alpha": alpha, "bravo": bravo, "broken": break_adapter(alpha, legal / "broken"), "root": root}


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
        # A path relative to legal's directory under the adapter root, or an absolute one in it.
        v1 = await register(api, "legal", "alpha", metrics={"f1": 0.41})
        v2 = await register(api, "legal", adapters["bravo"])
        other = await register(api, "legal-tone", f"file://{adapters['bravo']}")
        assert (v1.version, v2.version, other.version) == (1, 2, 1)
        assert v1.state == inference_pb2.ADAPTER_STATE_REGISTERED and v1.base_model == "gemma-3-270m"
        assert (v1.artifact_uri, v2.artifact_uri, other.artifact_uri) == ("alpha", "bravo", "bravo")

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

        # A missing artifact is refused at registration (it is in legal's own directory, so
        # saying so reveals nothing).
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await register(api, "legal", "not-there")
        assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "no adapter directory 'not-there'" in missing.value.details()
        # An adapter for other modules, another base model: clear errors, marked failed, no
        # host path in them, and the alias still serves version 1.
        broken = await register(api, "legal", "broken")
        foreign = await register(api, "legal", "alpha", base_model="llama-3.2-1b")
        for version, words in [(broken.version, "does not fit"), (foreign.version, "llama-3.2-1b")]:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal", version=version))
            assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert words in failed.value.details()
            assert str(sqlite_platform.data_dir) not in failed.value.details()
        assert "Zaragoza" in await generate(api, "legal")
        listing = await api.inference.ListAdapters(inference_pb2.ListAdaptersRequest(department="legal"))
        failed_states = {a.version: a.state for a in listing.adapters if a.name == "legal"}
        assert failed_states[broken.version] == inference_pb2.ADAPTER_STATE_FAILED
        assert "does not fit" in next(a.error for a in listing.adapters if a.version == broken.version)

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
        await register(owner, "contracts", "alpha")
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
        # Registering under the name of another department's adapter is refused too (with an
        # artifact of ventas's own).
        ventas_copy = adapters["root"] / "ventas" / "bravo"
        if not ventas_copy.exists():
            ventas_copy.mkdir(parents=True)
            for item in adapters["bravo"].iterdir():
                (ventas_copy / item.name).write_bytes(item.read_bytes())
        with pytest.raises(grpc.aio.AioRpcError) as taken:
            await register(outsider, "contracts", "bravo", department="ventas")
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


async def refused_registration(api: Api, uri: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await register(api, "stolen", uri, department="ventas")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
    return refused.value.details()


async def test_artifacts_are_confined_to_their_department(sqlite_platform, adapters):
    """A ventas trainer tries to register legal's adapter under ventas (so that ventas
    members would be answered by a model trained on legal's documents), every way round."""
    root = adapters["root"]
    (root / "ventas").mkdir(exist_ok=True)
    link = root / "ventas" / "link"
    if not link.is_symlink():
        link.symlink_to(adapters["alpha"])
    outsider = Api(sqlite_platform, VENTAS_TRAINER)
    try:
        messages = [await refused_registration(outsider, uri) for uri in (
            str(adapters["alpha"]),                          # another department's artifact
            "../legal/alpha",                                # `..` out of ventas's root
            f"file://{root}/ventas/../legal/alpha",          # a file:// URI with `..`
            "link", str(link),                               # a link in ventas's root into legal's
            "/etc",                                          # anything else on the host
            str(root / "legal" / "not-there"),               # (does not exist: the same answer)
        )]
        assert len(set(messages)) == 1, messages
        for host_path in (str(root), str(sqlite_platform.data_dir), "/etc"):
            assert host_path not in messages[0]
        assert "adapter root" in messages[0]
        listing = await outsider.inference.ListAdapters(inference_pb2.ListAdaptersRequest())
        assert "stolen" not in {a.name for a in listing.adapters}
    finally:
        await outsider.close()


def copy_artifact(source, target):
    target.mkdir(parents=True)
    for item in source.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
    return target


def flip_a_weight(artifact) -> None:
    """One bit of one weight: still a loadable adapter, but not the one registered."""
    weights = artifact / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))


async def test_an_artifact_changed_after_registration_is_not_served(sqlite_platform, adapters):
    changing = copy_artifact(adapters["alpha"], adapters["root"] / "legal" / "changing")
    served = copy_artifact(adapters["alpha"], adapters["root"] / "legal" / "served")
    api = Api(sqlite_platform, TRAINER)
    try:
        # Changed between registration and activation: refused, marked failed, not served.
        await register(api, "legal-changing", changing)
        flip_a_weight(changing)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal-changing"))
        assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "changed after it was registered" in failed.value.details()
        assert str(sqlite_platform.data_dir) not in failed.value.details()
        listing = await api.inference.ListAdapters(inference_pb2.ListAdaptersRequest(department="legal"))
        state = next(a.state for a in listing.adapters if a.name == "legal-changing")
        assert state == inference_pb2.ADAPTER_STATE_FAILED
        with pytest.raises(grpc.aio.AioRpcError) as unserved:
            await generate(api, "legal-changing@1")
        assert unserved.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # Changed while it serves: the next registry sync stops serving it.
        await register(api, "legal-served", served)
        await api.inference.ActivateAdapter(inference_pb2.ActivateAdapterRequest(name="legal-served"))
        assert "Zaragoza" in await generate(api, "legal-served")
        flip_a_weight(served)
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            try:
                await generate(api, "legal-served")
            except grpc.aio.AioRpcError as refused:
                assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "changed after it was registered" in refused.details()
                assert str(sqlite_platform.data_dir) not in refused.details()
                break
            assert asyncio.get_running_loop().time() < deadline, "a changed artifact is still served"
            await asyncio.sleep(1)
    finally:
        await api.close()
