"""The embedding engines on the shipped model exported by `make setup`: OpenVINO (bf16 where
the CPU has it) and onnxruntime int8 give the vectors of the PyTorch model, whatever the
order and length of the texts; `auto` picks between them by the CPU; and unchanged chunks
are not embedded twice."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest
from sentra_embedding.adapters import backends
from sentra_embedding.adapters.backends import LocalBackend, OnnxBackend, OpenVinoBackend, length_buckets
from sentra_embedding.app import build_backend
from sentra_embedding.config import EmbeddingSettings
from sentra_embedding.domain.batcher import MicroBatcher
from sentra_embedding.domain.cache import VectorCache
from sentra_embedding.domain.service import EmbeddingService
from sentra_embedding.export import default_onnx_dir, exported_model_ready

SENTENCES_EN = [
    "The warehouse opens at 7 am on weekdays.",
    "Employees must submit travel expenses within 30 days.",
    "How many vacation days do new hires get?",
    "The board approved the merger after a long debate about its cost.",
    "Passwords expire every ninety days; reuse of the last five is blocked.",
    "Quarterly VAT return",
    "Reset the router, then wait two minutes before reconnecting.",
    "Who signs purchase orders above 10,000 euros?",
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "Contract renewal notice: 60 days before expiry, in writing.",
    "GPU nodes are tainted so only training jobs are scheduled there.",
    "ok",
    "Error 0x80070005: access denied (see KB-4471, section 3.2).",
    "def main():\n    return 42  # code in a chunk",
]
SENTENCES_ES = [
    "El almacén abre a las 7 de la mañana los días laborables.",
    "¿Cuántos días de vacaciones tiene un empleado nuevo?",
    "Los gastos de viaje se presentan en un plazo de 30 días.",
    "La junta aprobó la fusión tras un largo debate sobre su coste.",
    "Las contraseñas caducan cada noventa días y no se pueden reutilizar.",
    "Declaración trimestral del IVA",
    "Reinicie el router y espere dos minutos antes de volver a conectarse.",
    "¿Quién firma las órdenes de compra de más de 10.000 euros?",
    "Los normandos dieron su nombre a Normandía, una región de Francia, en los siglos X y XI.",
    "Aviso de renovación del contrato: 60 días antes del vencimiento, por escrito.",
    "Año, niño, pingüino, acción: acentos y eñes.",
]


def _long(sentences: list[str], n: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(sentences) for _ in range(n))


TEXTS = (
    SENTENCES_EN + SENTENCES_ES
    + [_long(SENTENCES_EN, 6, 1), _long(SENTENCES_ES, 8, 2), _long(SENTENCES_EN + SENTENCES_ES, 14, 3)]
    # longer than the model's 256 tokens: both paths truncate the same way
    + [_long(SENTENCES_EN, 40, 4), _long(SENTENCES_ES, 45, 5)]
)


@pytest.fixture(scope="module")
def onnx_backend():
    directory = default_onnx_dir()
    if not exported_model_ready(directory):
        pytest.fail(f"the ONNX embedding model is missing at {directory}: run `make setup` "
                    f"(or `python -m sentra_embedding.export --out {directory}`)")
    backend = OnnxBackend(directory, threads=1, batch_size=8)
    backend.load()
    return backend


@pytest.fixture(scope="module")
def openvino_backend():
    directory = default_onnx_dir()
    if not exported_model_ready(directory):
        pytest.fail(f"the exported embedding model is missing at {directory}: run `make setup`")
    backend = OpenVinoBackend(directory, threads=1, batch_size=8)
    backend.load()
    return backend


@pytest.fixture(scope="module")
def torch_vectors():
    backend = LocalBackend(None)
    asyncio.run(backend.start())
    vectors = np.asarray(asyncio.run(backend.embed(TEXTS)), dtype=np.float32)
    asyncio.run(backend.close())
    return vectors


def test_onnx_int8_vectors_match_the_pytorch_model(onnx_backend, torch_vectors):
    assert len(TEXTS) >= 30
    vectors = onnx_backend.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and onnx_backend.dimension == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.97, [(t[:40], round(float(c), 3)) for t, c in zip(TEXTS, cosines, strict=True)]


def test_openvino_vectors_match_the_pytorch_model(openvino_backend, torch_vectors):
    vectors = openvino_backend.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and openvino_backend.dimension == 384
    cosines = (vectors * torch_vectors).sum(axis=1)
    # bf16 on CPUs that have it (accumulating in fp32), f32 elsewhere
    assert openvino_backend.precision_used in ("bf16", "f32")
    assert cosines.min() >= 0.99, [(t[:40], round(float(c), 4)) for t, c in zip(TEXTS, cosines, strict=True)]
    shuffled = list(reversed(TEXTS))
    assert np.allclose(openvino_backend.encode(shuffled)[::-1], vectors, atol=2e-2)


def test_length_buckets_pad_only_within_a_bucket_and_keep_every_index():
    lengths = [5, 200, 7, 6, 180, 9, 256, 4]
    buckets = length_buckets(lengths, batch_size=3, max_batch_tokens=10_000)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    assert [[lengths[i] for i in b] for b in buckets] == [[4, 5, 6], [7, 9, 180], [200, 256]]
    # the token budget splits a bucket before the padded size passes it
    assert all(len(b) * max(lengths[i] for i in b) <= 400 for b in length_buckets(lengths, 64, 400))


def test_bucketed_vectors_come_back_in_input_order(onnx_backend):
    texts = list(TEXTS)
    random.Random(7).shuffle(texts)
    together = onnx_backend.encode(texts)
    one_by_one = np.vstack([onnx_backend.encode([t]) for t in texts])
    # int8 activations are scaled per call, so a text's vector moves a little with its
    # batch companions, but each row is its own text's vector
    similarity = together @ one_by_one.T
    assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()
    assert similarity.diagonal().min() >= 0.95


async def test_missing_export_says_run_make_setup(tmp_path):
    with pytest.raises(FileNotFoundError, match="make setup"):
        await OnnxBackend(tmp_path / "none").start()


def test_auto_picks_openvino_on_bf16_cpus_and_onnxruntime_elsewhere(monkeypatch):
    monkeypatch.setattr("sentra_embedding.app.openvino_has_bf16", lambda: True)
    chosen = build_backend(EmbeddingSettings())
    assert isinstance(chosen, OpenVinoBackend) and chosen.precision == "auto"
    monkeypatch.setattr("sentra_embedding.app.openvino_has_bf16", lambda: False)
    chosen = build_backend(EmbeddingSettings())
    assert isinstance(chosen, OnnxBackend) and not isinstance(chosen, OpenVinoBackend)
    # an explicit choice is kept whatever the CPU
    assert isinstance(build_backend(EmbeddingSettings(backend="openvino", openvino_precision="f32")), OpenVinoBackend)
    assert isinstance(build_backend(EmbeddingSettings(backend="local")), LocalBackend)
    assert isinstance(backends.openvino_has_bf16(), bool)


class _Chunk:
    def __init__(self, text: str, title: str = "Manual") -> None:
        self.title, self.heading, self.text = title, "", text


class _CountingBackend:
    name, model, dimension = "fake", "fake-model", 2

    def __init__(self) -> None:
        self.embedded: list[str] = []

    async def embed(self, texts):
        self.embedded.extend(texts)
        return [[float(len(t)), 1.0] for t in texts]


async def test_unchanged_chunks_are_not_embedded_again():
    backend = _CountingBackend()
    batcher = MicroBatcher(backend.embed, 64, 1)
    service = EmbeddingService(backend, batcher, max_texts_per_request=10, max_text_chars=500,
                               cache=VectorCache(100))
    first = await service.embed_chunks([_Chunk("alpha"), _Chunk("beta"), _Chunk("alpha")])
    assert len(backend.embedded) == 2  # the repeated text once
    # a re-upload: one chunk changed, one added, two unchanged
    second = await service.embed_chunks([_Chunk("alpha"), _Chunk("beta, revised"), _Chunk("beta"), _Chunk("gamma")])
    assert backend.embedded[2:] == ["Manual\nbeta, revised", "Manual\ngamma"]  # only what is new
    assert second[0] == first[0] and second[2] == first[1]
    assert second[1] == [float(len("Manual\nbeta, revised")), 1.0]
    assert service.cache.hits == 2 and len(service.cache) == 4


def test_vector_cache_is_bounded_and_keyed_by_model():
    cache = VectorCache(2)
    a, b, c = (VectorCache.key("m", t) for t in "abc")
    cache.put(a, [0.5, 1.0])
    cache.put(b, [0.25, 1.0])
    assert cache.get(a) == [0.5, 1.0]  # a is now the most recent
    cache.put(c, [1.0, 0.0])
    assert cache.get(b) is None and cache.get(a) == [0.5, 1.0] and len(cache) == 2
    assert cache.get(VectorCache.key("other-model", "a")) is None
    disabled = VectorCache(0)
    disabled.put(a, [1.0])
    assert disabled.get(a) is None
