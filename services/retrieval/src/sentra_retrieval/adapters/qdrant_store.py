"""Vector store on a Qdrant server (cluster deployments), through ``qdrant_client``.

``url=`` talks to a real server. ``location=":memory:"`` or ``path=`` run qdrant-client's
local mode, a pure-Python stand-in for the server API used in tests; it ignores payload
indexes, so they are only created on a server.

Same collection layout, payload and filters as the Edge store. Sparse searches compute IDF
over the caller's scope by default (``search_params.idf`` with a corpus filter; needs a
server that supports it, otherwise pass ``idf_corpus="global"``). Writes use ``wait=True``,
so they are applied, and written to the server's WAL, before the call returns; ``flush()``
has nothing left to do. Searches may run concurrently from several threads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Literal

from qdrant_client import QdrantClient, models

from sentra_retrieval.adapters.payload import (
    DENSE_VECTOR,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
    chunks_in_order,
    hits_in_order,
    to_payload,
    validate_points,
)
from sentra_retrieval.domain.lexical import SparseVec
from sentra_retrieval.domain.model import IndexedPoint, ScopeFilter, StoredHit

logger = logging.getLogger(__name__)

_BATCH = 256
_TENANT_FIELD = "department"


class QdrantServerStore:
    """:class:`~sentra_retrieval.domain.ports.VectorStore` on a Qdrant collection."""

    engine = "qdrant"

    def __init__(
        self,
        url: str | None = None,
        location: str | None = None,
        path: str | None = None,
        api_key: str | None = None,
        collection: str = "sentra_chunks",
        timeout: float = 10,
        *,
        idf_corpus: Literal["scope", "global"] = "scope",
        hnsw_ef: int | None = None,
    ) -> None:
        if url is None and location is None and path is None:
            raise ValueError("give url (a server), or location=':memory:' / path (local mode)")
        self.collection = collection
        self._idf_corpus = idf_corpus
        self._hnsw_ef = hnsw_ef
        self._local = url is None and (path is not None or location == ":memory:")
        self._client = QdrantClient(url=url, location=location, path=path, api_key=api_key, timeout=math.ceil(timeout))
        self._dimension: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_collection(self, dimension: int) -> None:
        client, name = self._client, self.collection
        if not client.collection_exists(name):
            try:
                client.create_collection(
                    name,
                    vectors_config={DENSE_VECTOR: models.VectorParams(size=dimension, distance=models.Distance.COSINE)},
                    sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                )
                logger.info("created collection %s (dimension %d)", name, dimension)
            except Exception:
                if not client.collection_exists(name):  # else another replica created it
                    raise
        info = client.get_collection(name)
        self._check_layout(info, dimension)
        if not self._local:
            self._ensure_indexes(info)
        self._dimension = dimension

    def flush(self) -> None:
        """Nothing to do here: writes return (``wait=True``) once the server has applied them
        and written them to its WAL; syncing that to disk follows the server's own settings."""

    def close(self) -> None:
        self._client.close()

    # -- writes ----------------------------------------------------------------------------

    def upsert(self, points: Sequence[IndexedPoint]) -> None:
        validate_points(points, self._dimension)
        for start in range(0, len(points), _BATCH):
            batch = [_to_point(p) for p in points[start : start + _BATCH]]
            self._client.upsert(self.collection, points=batch, wait=True)

    def delete_document(self, document_id: str) -> None:
        self._delete(models.Filter(must=[_match("document_id", document_id)]))

    def delete_other_versions(self, document_id: str, keep_version: int) -> None:
        self._delete(
            models.Filter(
                must=[_match("document_id", document_id)],
                must_not=[_match("version", keep_version)],
            )
        )

    def _delete(self, selector: models.Filter) -> None:
        self._client.delete(self.collection, points_selector=models.FilterSelector(filter=selector), wait=True)

    # -- reads -----------------------------------------------------------------------------

    def count(self, document_id: str | None = None, version: int | None = None) -> int:
        must: list[models.Condition] = []
        if document_id is not None:
            must.append(_match("document_id", document_id))
        if version is not None:
            must.append(_match("version", version))
        selector = models.Filter(must=must) if must else None
        return self._client.count(self.collection, count_filter=selector, exact=True).count

    def max_version(self, document_id: str) -> int | None:
        records, _ = self._client.scroll(
            self.collection,
            scroll_filter=models.Filter(must=[_match("document_id", document_id)]),
            limit=1,
            order_by=models.OrderBy(key="version", direction=models.Direction.DESC),
            with_payload=["version"],
            with_vectors=False,
        )
        return int(records[0].payload["version"]) if records and records[0].payload else None

    def search_dense(self, vector: Sequence[float], scope: ScopeFilter, limit: int) -> list[StoredHit]:
        if scope.matches_nothing or limit <= 0:
            return []
        params = models.SearchParams(hnsw_ef=self._hnsw_ef) if self._hnsw_ef else None
        return self._query([float(x) for x in vector], DENSE_VECTOR, scope, params, limit)

    def search_sparse(self, vector: SparseVec, scope: ScopeFilter, limit: int) -> list[StoredHit]:
        if scope.matches_nothing or limit <= 0 or vector.is_empty:
            return []
        params = None
        if self._idf_corpus == "scope":
            corpus = models.IdfCorpusParams(corpus=_scope_filter(scope, narrow=False))
            params = models.SearchParams(idf=corpus)
        query = models.SparseVector(indices=list(vector.indices), values=list(vector.values))
        return self._query(query, SPARSE_VECTOR, scope, params, limit)

    def scroll(self, scope: ScopeFilter, limit: int, offset: int = 0, *, version: int | None = None) -> list[StoredHit]:
        if scope.matches_nothing or limit <= 0:
            return []
        selector = _scope_filter(scope)
        if version is not None:
            selector = models.Filter(must=[selector, _match("version", version)])
        records, _ = self._client.scroll(
            self.collection,
            scroll_filter=selector,
            limit=limit,
            order_by=models.OrderBy(key="chunk_index", direction=models.Direction.ASC, start_from=max(offset, 0)),
            with_payload=True,
            with_vectors=False,
        )
        return chunks_in_order(records)

    def _query(self, query, using: str, scope: ScopeFilter, params: models.SearchParams | None,
               limit: int) -> list[StoredHit]:
        """Best points of one named vector under the caller's scope, payloads included."""
        response = self._client.query_points(
            self.collection, query=query, using=using, query_filter=_scope_filter(scope), search_params=params,
            limit=limit, with_payload=True, with_vectors=False,
        )
        return hits_in_order(response.points)

    # -- helpers ---------------------------------------------------------------------------

    def _check_layout(self, info: models.CollectionInfo, dimension: int) -> None:
        vectors = info.config.params.vectors
        dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        sparse = (info.config.params.sparse_vectors or {}).get(SPARSE_VECTOR)
        if dense is None or sparse is None:
            raise ValueError(f"collection {self.collection} lacks the '{DENSE_VECTOR}' or '{SPARSE_VECTOR}' vector")
        if dense.size != dimension:
            raise ValueError(f"collection {self.collection} has dimension {dense.size}, not {dimension}")
        if sparse.modifier != models.Modifier.IDF:
            raise ValueError(f"collection {self.collection}: '{SPARSE_VECTOR}' lacks IDF")

    def _ensure_indexes(self, info: models.CollectionInfo) -> None:
        existing = set(info.payload_schema or {})
        wanted: dict[str, Any] = {field: models.PayloadSchemaType.KEYWORD for field in KEYWORD_FIELDS}
        wanted[_TENANT_FIELD] = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
        wanted.update({field: models.PayloadSchemaType.INTEGER for field in INTEGER_FIELDS})
        for field, schema in wanted.items():
            if field not in existing:
                self._client.create_payload_index(self.collection, field_name=field, field_schema=schema, wait=True)


def _to_point(point: IndexedPoint) -> models.PointStruct:
    sparse = models.SparseVector(indices=list(point.sparse.indices), values=list(point.sparse.values))
    return models.PointStruct(
        id=point.chunk_id,
        vector={DENSE_VECTOR: [float(x) for x in point.dense], SPARSE_VECTOR: sparse},
        payload=to_payload(point),
    )


def _match(key: str, value: str | int) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _scope_filter(scope: ScopeFilter, *, narrow: bool = True) -> models.Filter:
    """The scope as a Qdrant filter; ``narrow=False`` leaves out ``document_ids``."""
    must: list[models.Condition] = [models.FieldCondition(key="acl", match=models.MatchAny(any=scope.acl_values))]
    if not scope.all_departments:
        departments = models.MatchAny(any=list(scope.departments))
        must.append(models.FieldCondition(key="department", match=departments))
    if narrow and scope.document_ids:
        must.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=list(scope.document_ids))))
    return models.Filter(must=must)
