"""Vector store on Qdrant Edge: an in-process Qdrant shard kept in a local directory.

Behaviour of qdrant-edge-py 0.9 that this adapter relies on (the durability and locking
points are covered by tests; timings are in bench/README.md, "Qdrant Edge"):

* Durability: every update is written to the shard's write-ahead log before it is applied.
  A process killed without ``close()`` (even SIGKILL, before any ``flush()``) replays the
  WAL on the next load and loses nothing. ``flush()`` persists the WAL and segments to
  disk, which is what protects against an OS crash or power loss; the service calls it
  after each batch.
* One ``EdgeShard`` per directory: a second open of the same path fails while the first
  holds the WAL lock (reported here as a RuntimeError).
* Search: writes go to one appendable, unindexed segment, searched exactly (brute force).
  HNSW segments are only built by :meth:`EdgeStore.optimize`. Filters are evaluated
  inside the search in every segment, so no point outside the filter is ever returned,
  whichever index serves it; filtered candidate sets under HNSW's full-scan threshold
  (10 MB of vectors by default) are searched exactly.
* The IDF modifier is supported. Global IDF statistics count deleted points until their
  segment is vacuumed, so by default the IDF corpus is the caller's scope (live points of
  the departments and access lists it may read; ``idf_corpus="global"`` to turn it off).
* Threads: queries release the GIL and may run concurrently. Updates hold the GIL while
  they run, so upserts go in batches of 256; ``optimize()`` holds it for its whole run,
  blocking the event loop.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import qdrant_edge as qe

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

_CONFIG_FILE = "edge_config.json"
_BATCH = 256
_TENANT_FIELD = "department"


class EdgeStore:
    """:class:`~sentra_retrieval.domain.ports.VectorStore` on a Qdrant Edge shard in ``path``.

    An existing shard is loaded at construction; a new one is created by
    :meth:`ensure_collection`. Writes and lifecycle calls must be serialized by the caller.
    """

    engine = "qdrant-edge"

    def __init__(
        self,
        path: Path,
        *,
        idf_corpus: Literal["scope", "global"] = "scope",
        hnsw_ef: int | None = None,
    ) -> None:
        self.path = Path(path)
        self._idf_corpus = idf_corpus
        self._hnsw_ef = hnsw_ef
        self._lock = threading.RLock()
        self._shard: qe.EdgeShard | None = None
        self._dimension: int | None = None
        if (self.path / _CONFIG_FILE).exists():
            self._shard = _load(self.path, None)
            self._dimension = _stored_dimension(self.path)
            logger.info("loaded edge shard at %s (%d points)", self.path, self.count())

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_collection(self, dimension: int) -> None:
        with self._lock:
            if self._shard is None:
                config = _config(dimension)
                if (self.path / _CONFIG_FILE).exists():
                    self._shard = _load_checked(self.path, config, dimension)
                else:
                    self.path.mkdir(parents=True, exist_ok=True)
                    self._shard = qe.EdgeShard.create(str(self.path), config)
                    logger.info("created edge shard at %s (dimension %d)", self.path, dimension)
            elif self._dimension is not None and self._dimension != dimension:
                raise ValueError(f"edge shard at {self.path} has dimension {self._dimension}, not {dimension}")
            self._dimension = dimension
            self._ensure_indexes(self._shard)

    def flush(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None

    def optimize(self) -> bool:
        """Build HNSW indexes, merge and vacuum segments. Blocking, holds the GIL throughout:
        run it at startup or in maintenance windows, not while serving."""
        with self._lock:
            return self._shard is not None and self._shard.optimize()

    # -- writes ----------------------------------------------------------------------------

    def upsert(self, points: Sequence[IndexedPoint]) -> None:
        with self._lock:
            shard = self._require_shard()
            validate_points(points, self._dimension)
            for start in range(0, len(points), _BATCH):
                batch = [_to_point(p) for p in points[start : start + _BATCH]]
                shard.update(qe.UpdateOperation.upsert_points(batch))

    def delete_document(self, document_id: str) -> None:
        self._delete(qe.Filter(must=[_match("document_id", document_id)]))

    def delete_other_versions(self, document_id: str, keep_version: int) -> None:
        self._delete(
            qe.Filter(
                must=[_match("document_id", document_id)],
                must_not=[_match("version", keep_version)],
            )
        )

    def _delete(self, selector: qe.Filter) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.update(qe.UpdateOperation.delete_points_by_filter(selector))

    # -- reads -----------------------------------------------------------------------------

    def count(self, document_id: str | None = None, version: int | None = None) -> int:
        shard = self._shard
        if shard is None:
            return 0
        must = []
        if document_id is not None:
            must.append(_match("document_id", document_id))
        if version is not None:
            must.append(_match("version", version))
        selector = qe.Filter(must=must) if must else None
        return shard.count(qe.CountRequest(exact=True, filter=selector))

    def max_version(self, document_id: str) -> int | None:
        shard = self._shard
        if shard is None:
            return None
        records, _ = shard.scroll(
            qe.ScrollRequest(
                limit=1,
                filter=qe.Filter(must=[_match("document_id", document_id)]),
                with_payload=["version"],
                with_vector=False,
                order_by=qe.OrderBy("version", direction=qe.Direction.Desc),
            )
        )
        return int(records[0].payload["version"]) if records else None

    def search_dense(self, vector: Sequence[float], scope: ScopeFilter, limit: int) -> list[StoredHit]:
        shard = self._shard
        if shard is None or scope.matches_nothing or limit <= 0:
            return []
        params = qe.SearchParams(hnsw_ef=self._hnsw_ef) if self._hnsw_ef else None
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest([float(x) for x in vector], using=DENSE_VECTOR),
            filter=_scope_filter(scope),
            with_payload=True,
            with_vector=False,
            params=params,
        )
        return hits_in_order(shard.query(request))

    def search_sparse(self, vector: SparseVec, scope: ScopeFilter, limit: int) -> list[StoredHit]:
        shard = self._shard
        if shard is None or scope.matches_nothing or limit <= 0 or vector.is_empty:
            return []
        params = None
        if self._idf_corpus == "scope":
            params = qe.SearchParams(idf=qe.IdfParams(corpus=_scope_filter(scope, narrow=False)))
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(qe.SparseVector(list(vector.indices), list(vector.values)), using=SPARSE_VECTOR),
            filter=_scope_filter(scope),
            with_payload=True,
            with_vector=False,
            params=params,
        )
        return hits_in_order(shard.query(request))

    def scroll(self, scope: ScopeFilter, limit: int, offset: int = 0, *, version: int | None = None) -> list[StoredHit]:
        shard = self._shard
        if shard is None or scope.matches_nothing or limit <= 0:
            return []
        selector = _scope_filter(scope)
        if version is not None:
            selector = qe.Filter(must=[selector, _match("version", version)])
        records, _ = shard.scroll(
            qe.ScrollRequest(
                limit=limit,
                filter=selector,
                with_payload=True,
                with_vector=False,
                order_by=qe.OrderBy("chunk_index", direction=qe.Direction.Asc, start_from=max(offset, 0)),
            )
        )
        return chunks_in_order(records)

    # -- helpers ---------------------------------------------------------------------------

    def _require_shard(self) -> qe.EdgeShard:
        if self._shard is None:
            raise RuntimeError("ensure_collection() must be called before writing")
        return self._shard

    def _ensure_indexes(self, shard: qe.EdgeShard) -> None:
        existing = set(shard.info().payload_schema)
        for field in KEYWORD_FIELDS:
            if field not in existing:
                schema: Any = (
                    qe.KeywordIndexParams(is_tenant=True) if field == _TENANT_FIELD else qe.PayloadSchemaType.Keyword
                )
                shard.update(qe.UpdateOperation.create_field_index(field, schema))
        for field in INTEGER_FIELDS:
            if field not in existing:
                shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Integer))


def _config(dimension: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={DENSE_VECTOR: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


def _load_checked(path: Path, config: qe.EdgeConfig, dimension: int) -> qe.EdgeShard:
    stored = _stored_dimension(path)
    if stored is not None and stored != dimension:
        raise ValueError(f"edge shard at {path} has dimension {stored}, not {dimension}")
    return _load(path, config)


def _load(path: Path, config: qe.EdgeConfig | None) -> qe.EdgeShard:
    try:
        return qe.EdgeShard.load(str(path), config)
    except Exception as exc:  # the bindings raise plain Exception
        if "WouldBlock" in str(exc):
            raise RuntimeError(f"edge shard at {path} is open in another process (one writer per directory)") from exc
        raise ValueError(f"cannot open edge shard at {path}: {exc}") from exc


def _stored_dimension(path: Path) -> int | None:
    try:
        config = json.loads((path / _CONFIG_FILE).read_text())
        return int(config["vectors"][DENSE_VECTOR]["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _to_point(point: IndexedPoint) -> qe.Point:
    vectors: dict[str, Any] = {
        DENSE_VECTOR: [float(x) for x in point.dense],
        SPARSE_VECTOR: qe.SparseVector(list(point.sparse.indices), list(point.sparse.values)),
    }
    return qe.Point(point.chunk_id, vectors, to_payload(point))


def _match(key: str, value: str | int) -> qe.FieldCondition:
    return qe.FieldCondition(key, match=qe.MatchValue(value))


def _scope_filter(scope: ScopeFilter, *, narrow: bool = True) -> qe.Filter:
    """The scope as an engine filter; ``narrow=False`` leaves out ``document_ids``."""
    must = [qe.FieldCondition("acl", match=qe.MatchAny(scope.acl_values))]
    if not scope.all_departments:
        must.append(qe.FieldCondition("department", match=qe.MatchAny(list(scope.departments))))
    if narrow and scope.document_ids:
        must.append(qe.FieldCondition("document_id", match=qe.MatchAny(list(scope.document_ids))))
    return qe.Filter(must=must)
