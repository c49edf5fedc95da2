"""Who may reach whom under the chart's NetworkPolicies, evaluated the way Kubernetes does:
a connection needs the source's egress and the destination's ingress to allow it (pods no
policy selects are open in that direction; here every pod is selected by the default deny).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest

from tests.deploy._manifests import objects, rendered

NAMESPACE = "sentra"
RELEASE = {"app.kubernetes.io/instance": "sentra"}


@dataclass(frozen=True)
class Peer:
    """A pod (labels, namespace) or an address outside the cluster (ip)."""

    name: str
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    namespace: str = NAMESPACE
    namespace_labels: dict = field(default_factory=dict, hash=False, compare=False)
    ip: str = ""


def sentra(component: str, **extra: str) -> Peer:
    labels = {"app.kubernetes.io/name": "sentra", **RELEASE, "app.kubernetes.io/component": component, **extra}
    return Peer(component, labels, namespace_labels={"kubernetes.io/metadata.name": NAMESPACE})


BUS = {"sentra.io/bus-client": "true"}
PODS = {name: sentra(name, **BUS) for name in ("gateway", "ingestion", "embedding", "retrieval", "inference",
                                                 "training")}
PODS.update({name: sentra(name) for name in ("vllm", "tei", "ray", "test")})
PODS["nats"] = Peer("nats", {"app.kubernetes.io/name": "nats", **RELEASE, "app.kubernetes.io/component": "nats"},
                    namespace_labels={"kubernetes.io/metadata.name": NAMESPACE})
PODS["qdrant"] = Peer("qdrant", {"app.kubernetes.io/name": "qdrant", **RELEASE},
                      namespace_labels={"kubernetes.io/metadata.name": NAMESPACE})
OUTSIDER = Peer("pod in another namespace", {"app": "curious"}, "apps", {"kubernetes.io/metadata.name": "apps"})
INTERNET = Peer("a client outside the cluster", ip="203.0.113.5")
DNS = Peer("kube-dns", {"k8s-app": "kube-dns"}, "kube-system", {"kubernetes.io/metadata.name": "kube-system"})
KEYCLOAK = Peer("keycloak", {"app": "keycloak"}, "keycloak", {"kubernetes.io/metadata.name": "keycloak"})
POSTGRES = Peer("postgres", ip="10.20.0.10")
PROMETHEUS = Peer("prometheus", {"app": "prometheus"}, "monitoring", {"kubernetes.io/metadata.name": "monitoring"})


def _selects(selector: dict | None, labels: dict) -> bool:
    if selector is None:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        present = expr["key"] in labels
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
        if expr["operator"] == "Exists" and not present:
            return False
        if expr["operator"] == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(rule_peer: dict, peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        if not peer.ip:
            return False
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if peer.ip:
        return False
    if "namespaceSelector" in rule_peer:
        if not _selects(rule_peer["namespaceSelector"], peer.namespace_labels):
            return False
    elif peer.namespace != NAMESPACE:
        return False
    return _selects(rule_peer.get("podSelector"), peer.labels)


def _rule_allows(rule: dict, peers_key: str, peer: Peer, port: int) -> bool:
    peers = rule.get(peers_key)
    if peers and not any(_peer_matches(p, peer) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(p.get("port") in (None, port) for p in ports)


def _direction_allows(policies: list[dict], pod: Peer, other: Peer, port: int, kind: str) -> bool:
    if pod.ip or pod.namespace != NAMESPACE:
        return True  # outside what these policies govern
    selecting = [p for p in policies if kind in p["spec"].get("policyTypes", ["Ingress"])
                 and _selects(p["spec"]["podSelector"], pod.labels)]
    if not selecting:
        return True
    rules_key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    return any(_rule_allows(rule, peers_key, other, port) for p in selecting for rule in p["spec"].get(rules_key) or [])


def reachable(policies: list[dict], source: Peer, destination: Peer, port: int) -> bool:
    return (_direction_allows(policies, source, destination, port, "Egress")
            and _direction_allows(policies, destination, source, port, "Ingress"))


@pytest.fixture(scope="module")
def policies() -> list[dict]:
    docs = objects(rendered("values-onprem-gpu.yaml"))
    return [d for d in docs if d["kind"] == "NetworkPolicy"]


def test_default_deny_selects_every_pod(policies) -> None:
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1
    spec = deny[0]["spec"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    assert not spec.get("ingress") and not spec.get("egress")


def test_only_the_gateway_is_reachable_from_outside_the_namespace(policies) -> None:
    for outside in (OUTSIDER, INTERNET):
        assert reachable(policies, outside, PODS["gateway"], 50051)
        assert reachable(policies, outside, PODS["gateway"], 8080)
        for name, pod in PODS.items():
            if name == "gateway":
                continue
            for port in (50051, 8000, 8080, 4222, 6333, 8265, 6379):
                assert not reachable(policies, outside, pod, port), f"{outside.name} reaches {name}:{port}"


ALLOWED = [
    ("gateway", "ingestion", 50051), ("gateway", "retrieval", 50051), ("gateway", "inference", 50051),
    ("gateway", "training", 50051), ("gateway", "embedding", 50051), ("retrieval", "embedding", 50051),
    ("retrieval", "ingestion", 50051),
    ("inference", "retrieval", 50051), ("training", "retrieval", 50051), ("inference", "vllm", 8000),
    ("embedding", "tei", 8080), ("training", "ray", 8265), ("retrieval", "qdrant", 6333),
    ("test", "gateway", 50051), ("test", "gateway", 8080),
    *((service, "nats", 4222) for service in ("gateway", "ingestion", "embedding", "retrieval", "inference",
                                              "training")),
]
DENIED = [
    ("gateway", "vllm", 8000), ("gateway", "tei", 8080), ("gateway", "qdrant", 6333),
    ("gateway", "ray", 8265), ("embedding", "inference", 50051), ("ingestion", "retrieval", 50051),
    ("training", "vllm", 8000), ("retrieval", "vllm", 8000), ("inference", "tei", 8080), ("ingestion", "qdrant", 6333),
    ("inference", "ray", 8265), ("vllm", "nats", 4222), ("tei", "nats", 4222), ("qdrant", "nats", 4222),
    ("ray", "nats", 4222), ("test", "ingestion", 50051), ("vllm", "gateway", 50051),
]


@pytest.mark.parametrize(("source", "destination", "port"), ALLOWED, ids=[f"{s}->{d}:{p}" for s, d, p in ALLOWED])
def test_flows_sentra_uses_are_allowed(policies, source: str, destination: str, port: int) -> None:
    assert reachable(policies, PODS[source], PODS[destination], port)


@pytest.mark.parametrize(("source", "destination", "port"), DENIED, ids=[f"{s}->{d}:{p}" for s, d, p in DENIED])
def test_other_flows_are_denied(policies, source: str, destination: str, port: int) -> None:
    assert not reachable(policies, PODS[source], PODS[destination], port)


def test_egress_to_dns_databases_and_identity(policies) -> None:
    for name in ("gateway", "ingestion", "embedding", "retrieval", "inference", "training", "vllm", "nats"):
        assert reachable(policies, PODS[name], DNS, 53), f"{name} cannot resolve names"
    for name in ("gateway", "ingestion", "inference", "training"):
        assert reachable(policies, PODS[name], POSTGRES, 5432), f"{name} cannot reach PostgreSQL"
    for name in ("embedding", "retrieval", "vllm", "tei", "nats", "qdrant"):
        assert not reachable(policies, PODS[name], POSTGRES, 5432), f"{name} reaches PostgreSQL"
    assert reachable(policies, PODS["gateway"], KEYCLOAK, 8080)
    assert not reachable(policies, PODS["inference"], KEYCLOAK, 8080)
    # Engines and stores have nowhere to send data out to.
    for name in ("vllm", "tei", "qdrant"):
        assert not reachable(policies, PODS[name], INTERNET, 443), f"{name} reaches the internet"


def test_prometheus_scrapes_every_metrics_port(policies) -> None:
    for name in ("gateway", "ingestion", "embedding", "retrieval", "inference", "training"):
        assert reachable(policies, PROMETHEUS, PODS[name], 9090), name
        if name != "gateway":  # the gateway's API is open to all (it authenticates every call)
            assert not reachable(policies, PROMETHEUS, PODS[name], 50051), name


def test_hybrid_sites_reach_only_what_crosses_the_interconnect() -> None:
    cloud = Peer("cloud site", ip="10.200.4.7")
    onprem = [d for d in objects(rendered("values-hybrid.yaml")) if d["kind"] == "NetworkPolicy"]
    assert reachable(onprem, cloud, PODS["nats"], 7422), "the leaf node cannot reach the hub"
    assert reachable(onprem, cloud, PODS["retrieval"], 50051), "cloud training cannot read chunks"
    assert reachable(onprem, PODS["gateway"], cloud, 50051), "the gateway cannot reach cloud training"
    assert not reachable(onprem, cloud, PODS["nats"], 4222)
    assert not reachable(onprem, cloud, PODS["inference"], 50051)
    assert not reachable(onprem, Peer("elsewhere", ip="198.51.100.1"), PODS["nats"], 7422)

    onprem_site = Peer("on-prem site", ip="10.10.3.3")
    cloud_policies = [d for d in objects(rendered("values-hybrid-cloud.yaml")) if d["kind"] == "NetworkPolicy"]
    assert reachable(cloud_policies, onprem_site, PODS["training"], 50051)
    assert reachable(cloud_policies, PODS["training"], onprem_site, 50051)
    assert reachable(cloud_policies, PODS["nats"], onprem_site, 7422)
    assert not reachable(cloud_policies, onprem_site, PODS["ray"], 8265)
