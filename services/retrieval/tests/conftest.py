"""Fixtures for the retrieval tests: points and both vector-store engines."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from sentra_retrieval.domain.lexical import SparseEncoder, term_index, tokenize
from sentra_retrieval.domain.model import IndexedPoint

STORE_DIM = 16  # the dimension of the `store` fixture's collection
ENCODER = SparseEncoder()


def _text_vector(text: str, dimension: int) -> list[float]:
    """A deterministic unit vector from a text: hashed bag of words, so texts that share
    words are close (no embedding model is available to the tests)."""
    total = np.zeros(dimension)
    for token in tokenize(text):
        total += np.random.default_rng(term_index(token)).standard_normal(dimension)
    if not total.any():
        total = np.random.default_rng(0).standard_normal(dimension)
    return (total / np.linalg.norm(total)).tolist()


def _chunk_uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sentra-test:{name}"))


def _make_point(
    name: str,
    text: str,
    *,
    document_id: str = "doc-1",
    version: int = 1,
    chunk_index: int = 0,
    department: str = "hr",
    access_list: tuple[str, ...] = (),
    dimension: int = STORE_DIM,
    dense: list[float] | None = None,
) -> IndexedPoint:
    return IndexedPoint(
        chunk_id=_chunk_uuid(name),
        document_id=document_id,
        version=version,
        chunk_index=chunk_index,
        text=text,
        page=1,
        heading="Heading",
        title="Title",
        department=department,
        access_list=access_list,
        source_uri=f"file:///{document_id}.pdf",
        dense=dense if dense is not None else _text_vector(text, dimension),
        sparse=ENCODER.encode_document(text),
    )


def _open_engine(kind: str, tmp_path: Path, dimension: int):
    if kind == "edge":
        from sentra_retrieval.adapters.edge_store import EdgeStore

        store = EdgeStore(tmp_path / "edge")
    else:
        from sentra_retrieval.adapters.qdrant_store import QdrantServerStore

        store = QdrantServerStore(location=":memory:")
    store.ensure_collection(dimension)
    return store


@pytest.fixture(params=["edge", "qdrant-local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator:
    """An empty store of dimension STORE_DIM, for each engine."""
    s = _open_engine(request.param, tmp_path, STORE_DIM)
    yield s
    s.close()


@pytest.fixture(scope="session")
def make_point() -> Callable[..., IndexedPoint]:
    """make_point(name, text, **fields): a point whose id derives from ``name``."""
    return _make_point


@pytest.fixture(scope="session")
def text_vector() -> Callable[[str, int], list[float]]:
    return _text_vector


@pytest.fixture(scope="session")
def open_engine() -> Callable:
    """open_engine(kind, tmp_path, dimension): "edge" or "qdrant-local", collection ready."""
    return _open_engine


@pytest.fixture(scope="session")
def encoder() -> SparseEncoder:
    return ENCODER


@pytest.fixture(scope="session")
def store_dim() -> int:
    return STORE_DIM
