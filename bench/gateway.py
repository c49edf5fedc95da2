"""What the gateway costs: the same lexical Search (no embedding, so the call path itself
is measured) through the gateway with a Keycloak token — verification, permission table,
rate limit, signing, forwarding, audit insert — against a direct call to the retrieval
service with a signed principal, in the same run on the same data. Also the resident
memory of Keycloak and of the gateway.

    python bench/gateway.py [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import grpc
from benchlib import (
    banner,
    machine_summary,
    mib,
    percentile,
    ratio,
    rss_kib,
    table,
    temporary_platform,
    write_results,
)
from sentra.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from sentra.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from sentra_cli.admin import RealmAdmin
from sentra_cli.session import password_login
from sentra_common.principal import Principal

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-Password-1"
QUERY = retrieval_pb2.SearchRequest(query="duración del contrato y preaviso", top_k=10,
                                    mode=retrieval_pb2.SEARCH_MODE_LEXICAL)


async def timed(call, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def run(platform, calls: int) -> dict:
    state = platform.load_state()
    stored = json.loads(Path(state.identity.admin_file).read_text())
    admin = RealmAdmin(state.identity.issuer, stored["username"], stored["password"])
    admin.create_department("legal")
    admin.create_user("bench", email="bench@cierzo.example", password=PASSWORD, departments=["legal"],
                      roles=["dept-admin"])
    token = password_login(state.identity.issuer, "bench", PASSWORD).access_token
    bearer = (("authorization", f"Bearer {token}"),)
    gateway = grpc.aio.insecure_channel(state.target("gateway"))
    for path in sorted((ROOT / "examples" / "corpus" / "legal").iterdir()):
        def messages(path=path):
            yield ingestion_pb2.UploadDocumentRequest(metadata=ingestion_pb2.UploadMetadata(
                filename=path.name, department="legal", source_uri=path.as_uri()))
            yield ingestion_pb2.UploadDocumentRequest(data=path.read_bytes())
        await ingestion_pb2_grpc.IngestionServiceStub(gateway).UploadDocument(messages(), metadata=bearer)
    await asyncio.sleep(15)  # let the three documents index

    via_gateway = retrieval_pb2_grpc.RetrievalServiceStub(gateway)
    principal = Principal("bench", ("legal",), ("dept-admin",))
    direct_channel = platform.internal_channel("retrieval", principal)
    direct = retrieval_pb2_grpc.RetrievalServiceStub(direct_channel)
    assert (await via_gateway.Search(QUERY, metadata=bearer)).hits, "nothing indexed"
    for _ in range(20):  # warm both paths
        await via_gateway.Search(QUERY, metadata=bearer)
        await direct.Search(QUERY)
    gw = await timed(lambda: via_gateway.Search(QUERY, metadata=bearer), calls)
    dr = await timed(lambda: direct.Search(QUERY), calls)
    await gateway.close()
    await direct_channel.close()
    table(["path", "p50 ms", "p99 ms", "mean ms"], [
        ["through the gateway (token, audit)", f"{percentile(gw, 50):.2f}", f"{percentile(gw, 99):.2f}",
         f"{sum(gw) / len(gw):.2f}"],
        ["direct to retrieval (signed principal)", f"{percentile(dr, 50):.2f}", f"{percentile(dr, 99):.2f}",
         f"{sum(dr) / len(dr):.2f}"],
    ], title=f"lexical Search, {calls} sequential calls each")
    print(f"gateway / direct p50 ratio: {ratio(percentile(gw, 50), percentile(dr, 50))}")
    state = platform.load_state()
    rows = [[name, mib(rss_kib(info.pid) or 0)] for name, info in
            (("keycloak (JVM)", state.keycloak), ("gateway", state.services["gateway"]))]
    table(["process", "RSS"], rows, title="memory after the run")
    return {
        "gateway_ms": {"p50": round(percentile(gw, 50), 3), "p99": round(percentile(gw, 99), 3),
                       "mean": round(sum(gw) / len(gw), 3)},
        "direct_ms": {"p50": round(percentile(dr, 50), 3), "p99": round(percentile(dr, 99), 3),
                      "mean": round(sum(dr) / len(dr), 3)},
        "gateway_over_direct_p50": round(percentile(gw, 50) / percentile(dr, 50), 3),
        "rss_mib": {name: round((rss_kib(info.pid) or 0) / 1024) for name, info in
                    (("keycloak", state.keycloak), ("gateway", state.services["gateway"]))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    banner("gateway overhead")
    print(machine_summary())
    env = {"SENTRA_GATEWAY_RATE_LIMIT__REQUESTS_PER_SECOND": "10000", "SENTRA_GATEWAY_RATE_LIMIT__BURST": "10000"}
    with temporary_platform(env, identity="keycloak") as platform:
        results = asyncio.run(run(platform, args.calls))
    write_results("gateway", {"calls": args.calls, "query": "lexical Search, top_k 10", "identity": "keycloak",
                              "rate_limit": "raised to 10000/s so it never waits"}, results)


if __name__ == "__main__":
    main()
