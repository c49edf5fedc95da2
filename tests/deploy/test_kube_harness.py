"""The deployment harness is real: the API server refuses what a cluster would refuse, the
CRDs' schemas are enforced, helm renders and lints, promtool checks rules."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.deploy import helmtool, tools

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gateway
  labels: {app.kubernetes.io/name: gateway}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: gateway}
  template:
    metadata:
      labels: {app.kubernetes.io/name: gateway}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: gateway
          image: sentra/gateway:0.1.0
          ports: [{name: grpc, containerPort: 50051}]
          readinessProbe:
            grpc: {port: 50051}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""

RAY_CLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: training
spec:
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: sentra/training:0.1.0}]
  workerGroupSpecs:
    - groupName: gpu
      replicas: {replicas}
      minReplicas: 0
      maxReplicas: 4
      rayStartParams: {}
      template:
        spec:
          containers: [{name: ray-worker, image: sentra/training:0.1.0}]
"""

PROMETHEUS_RULE = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: sentra
spec:
  groups:
    - {group}
      rules:
        - alert: DeadLettersGrowing
          expr: increase(sentra_dead_letters_total[10m]) > 0
          for: 5m
"""

SERVICE_MONITOR = """\
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: gateway
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: gateway}
  endpoints:
    - port: metrics
      interval: 30s
"""


def rejected(kube_api, text: str, namespace: str = "sentra") -> str:
    with pytest.raises(AssertionError) as caught:
        kube_api.dry_run(text, namespace=namespace)
    return str(caught.value)


def test_a_valid_deployment_passes_and_nothing_is_stored(kube_api):
    done = kube_api.dry_run(DEPLOYMENT)
    assert "deployment.apps/gateway created (server dry run)" in done.stdout
    listed = kube_api.kubectl("get", "deployments", "--namespace", "sentra", "-o", "name")
    assert listed.returncode == 0 and listed.stdout.strip() == ""


def test_a_selector_that_does_not_match_the_template_labels_is_rejected(kube_api):
    text = DEPLOYMENT.replace("matchLabels: {app.kubernetes.io/name: gateway}", "matchLabels: {app: other}")
    assert "`selector` does not match template `labels`" in rejected(kube_api, text)


def test_an_unknown_field_is_rejected(kube_api):
    field = "readOnlyRootFilesystem: true"
    text = DEPLOYMENT.replace(field, f"{field}\n            readOnlyRoot: true")
    message = rejected(kube_api, text)
    assert 'unknown field "spec.template.spec.containers[0].securityContext.readOnlyRoot"' in message


def test_a_key_repeated_in_a_mapping_is_rejected(kube_api):
    text = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replicas: 3\n")
    assert "duplicate key 'replicas'" in rejected(kube_api, text)


def test_two_entries_of_one_name_in_a_keyed_list_are_rejected(kube_api):
    env = "          env: [{name: MODE, value: a}, {name: MODE, value: b}]\n"
    text = DEPLOYMENT.replace("          ports:", env + "          ports:")
    assert 'duplicate entries for key [name="MODE"]' in rejected(kube_api, text)


def test_the_shared_crds_are_established(kube_api):
    names = set(kube_api.kubectl("get", "crd", "-o", "name").stdout.split())
    prefix = "customresourcedefinition.apiextensions.k8s.io/"
    expected = {prefix + crd["metadata"]["name"] for crd in helmtool.shared_crds()}
    assert len(expected) == len(list(helmtool.SHARED_CRDS.glob("*.yaml")))
    assert expected <= names


def test_a_ray_cluster_is_checked_against_its_crd_schema(kube_api):
    kube_api.dry_run(RAY_CLUSTER.replace("{replicas}", "1"))
    message = rejected(kube_api, RAY_CLUSTER.replace("{replicas}", '"two"'))
    assert "spec.workerGroupSpecs[0].replicas" in message
    assert "must be of type integer" in message


def test_an_unknown_field_in_a_custom_resource_is_rejected(kube_api):
    text = RAY_CLUSTER.replace("{replicas}", "1").replace("maxReplicas: 4", "maxReplicas: 4\n      maxReplica: 4")
    assert 'unknown field "spec.workerGroupSpecs[0].maxReplica"' in rejected(kube_api, text)


def test_a_prometheus_rule_is_checked_against_its_crd_schema(kube_api):
    kube_api.dry_run(PROMETHEUS_RULE.replace("{group}", "name: sentra.pipeline"))
    # A group without its name, and one whose rules are a string: both refused by the schema.
    nameless = PROMETHEUS_RULE.replace("{group}", "interval: 1m")
    assert "spec.groups[0].name: Required value" in rejected(kube_api, nameless)
    broken = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: sentra}\n"
    broken += "spec:\n  groups:\n    - {name: sentra.pipeline, rules: 'sentra_up == 0'}\n"
    message = rejected(kube_api, broken)
    assert "spec.groups[0].rules" in message and "must be of type array" in message


def test_a_service_monitor_passes(kube_api):
    kube_api.dry_run(SERVICE_MONITOR)


def test_every_object_of_a_manifest_is_checked_and_each_rejection_named(kube_api):
    bad_monitor = SERVICE_MONITOR.replace("interval: 30s", "interval: thirty")
    message = rejected(kube_api, "---\n".join([DEPLOYMENT, bad_monitor, RAY_CLUSTER.replace("{replicas}", '"two"')]))
    assert 'ServiceMonitor.monitoring.coreos.com "gateway" is invalid: spec.endpoints[0].interval' in message
    assert 'RayCluster.ray.io "training" is invalid: [spec.workerGroupSpecs[0].replicas' in message


def test_a_namespace_named_by_an_object_is_created_first(kube_api):
    text = SERVICE_MONITOR.replace("name: gateway\nspec", "name: gateway\n  namespace: sentra-monitoring\nspec")
    kube_api.dry_run(text)
    assert kube_api.kubectl("get", "namespace", "sentra-monitoring").returncode == 0


def test_a_pod_may_name_the_service_account_rendered_beside_it(kube_api):
    # A helm test hook: nothing stores the ServiceAccount during a dry run, and no controller
    # would create it; the API server must not refuse the Pod for that.
    kube_api.dry_run(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: tester}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: gateway-test}\n"
        "spec:\n  serviceAccountName: tester\n  restartPolicy: Never\n"
        "  containers: [{name: check, image: sentra/gateway:0.1.0}]\n"
    )


def test_pod_security_warnings_reach_the_caller(kube_api):
    done = kube_api.dry_run(DEPLOYMENT.replace("runAsNonRoot: true", "runAsNonRoot: false"))
    assert 'would violate PodSecurity "restricted:latest"' in done.stderr


def _chart(directory: Path, template: str, dependencies: str = "") -> Path:
    chart = directory / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: '0.1.0'\nicon: https://example.com/icon.png\n{dependencies}"
    )
    (chart / "values.yaml").write_text("replicas: 1\nnats:\n  enabled: false\n")
    (chart / "templates" / "configmap.yaml").write_text(template)
    return chart


CONFIGMAP_TEMPLATE = textwrap.dedent("""\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-tiny
      namespace: {{ .Release.Namespace }}
    data:
      replicas: {{ .Values.replicas | quote }}
      monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" | quote }}
      kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
    """)


def test_render_a_tiny_chart_and_dry_run_it(tmp_path, kube_api):
    chart = _chart(tmp_path, CONFIGMAP_TEMPLATE)
    values = tmp_path / "values-three.yaml"
    values.write_text("replicas: 3\n")
    text = helmtool.render(chart, values_files=[values], release="demo", namespace="sentra-demo")
    configmap = yaml.safe_load(text)
    assert configmap["metadata"] == {"name": "demo-tiny", "namespace": "sentra-demo"}
    assert configmap["data"] == {"replicas": "3", "monitoring": "true", "kubeVersion": tools.kubernetes_version()}
    assert yaml.safe_load(helmtool.render(chart, set_values={"replicas": 5}))["data"]["replicas"] == "5"
    kube_api.dry_run(text, namespace="sentra-demo")


def test_render_puts_the_declared_shared_charts_in_place(tmp_path):
    dependencies = "dependencies:\n  - {name: nats, version: '2.14.2', condition: nats.enabled}\n"
    chart = _chart(tmp_path, CONFIGMAP_TEMPLATE, dependencies)
    assert "kind: StatefulSet" not in helmtool.render(chart)
    assert "kind: StatefulSet" in helmtool.render(chart, set_values={"nats.enabled": True})


def test_render_reports_a_broken_template(tmp_path):
    chart = _chart(tmp_path, "{{ .Values.replicas | nosuchfunction }}\n")
    with pytest.raises(AssertionError, match="nosuchfunction"):
        helmtool.render(chart)


def test_lint_passes_a_good_chart_and_reports_a_broken_one(tmp_path):
    good = _chart(tmp_path / "good", CONFIGMAP_TEMPLATE)
    assert helmtool.lint(good).returncode == 0
    broken = _chart(tmp_path / "broken", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.no.name }}\n")
    done = helmtool.lint(broken)
    assert done.returncode != 0
    assert "nil pointer evaluating interface {}.name" in done.stdout + done.stderr


def test_promtool_checks_rule_files(tmp_path):
    good = tmp_path / "good.rules.yaml"
    rule = "groups:\n  - name: sentra\n    rules:\n      - alert: Down\n        expr: {expr}\n"
    good.write_text(rule.format(expr="up == 0"))
    bad = tmp_path / "bad.rules.yaml"
    bad.write_text(rule.format(expr="up == == 0"))
    promtool = str(tools.promtool_binary())
    ok = subprocess.run([promtool, "check", "rules", str(good)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "SUCCESS: 1 rules found" in ok.stdout
    failed = subprocess.run([promtool, "check", "rules", str(bad)], capture_output=True, text=True, check=False)
    assert failed.returncode != 0
    assert "parse error" in failed.stdout + failed.stderr


def test_the_prometheus_server_and_etcd_run():
    for binary in (tools.prometheus_binary(), tools.etcd_binary()):
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_missing_tool_names_make_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRA_BIN_CACHE", str(tmp_path))
    for find in (tools.helm_binary, tools.kube_apiserver_binary, tools.kubectl_binary):
        with pytest.raises(tools.ToolMissingError, match=re.escape("run `make setup`")):
            find()


def test_setup_builds_the_versions_the_tests_look_for():
    setup = (tools.ROOT / "scripts" / "setup.sh").read_text()
    assert f"\nHELM_VERSION={tools.HELM_VERSION}\n" in setup
    assert "tools/k8s/go.mod" in setup
