"""Kubernetes manifests → scenarios: round trips, warnings, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import_compose import MANIFESTS, call, short_run_conserves

from sim.config.schema import Scenario
from sim.importers import import_kubernetes


def test_helm_rendered_manifest_maps_exactly() -> None:
    result = import_kubernetes([MANIFESTS / "helm_rendered.yaml"])
    scenario = result.scenario
    container = scenario["service"]["container"]
    assert scenario["service"]["initial_replicas"] == 4
    assert container == {
        "image": "registry.example.com/checkout:3.2.0",
        "cpu_request_m": 500,
        "cpu_limit_m": 1000,
        "memory_request_mib": 768,
        "termination_grace_s": 45.0,
    }
    kubernetes = scenario["policy"]["kubernetes"]
    assert scenario["policy"]["name"] == "kubernetes"
    assert kubernetes["readiness_probe"] == {"initial_delay_s": 15.0, "period_s": 5.0}
    assert kubernetes["hpa"] == {
        "min_replicas": 4,
        "max_replicas": 30,
        "target_cpu_utilization": 0.65,
        "behavior": {
            "scale_up": {
                "stabilization_window_s": 0,
                "select_policy": "Max",
                "policies": [
                    {"type": "Percent", "value": 100, "period_s": 15},
                    {"type": "Pods", "value": 4, "period_s": 15},
                ],
            },
            "scale_down": {
                "stabilization_window_s": 300,
                "policies": [{"type": "Pods", "value": 1, "period_s": 60}],
            },
        },
    }
    for fragment in (
        "ConfigMap/checkout-config",
        "Service/checkout",
        "container envoy",
        "metric memory",
        "spec.strategy",
    ):
        assert any(fragment in warning for warning in result.warnings), fragment
    validated = Scenario.model_validate(scenario)
    assert validated.policy.kubernetes.hpa.behavior is not None
    short_run_conserves(result)


def test_list_with_v1_hpa_and_nodes() -> None:
    result = import_kubernetes([MANIFESTS / "deployment_list.yaml", MANIFESTS / "nodes.yaml"])
    scenario = result.scenario
    container = scenario["service"]["container"]
    assert container["cpu_request_m"] == 1500  # request defaults to the limit
    assert container["cpu_limit_m"] == 1500
    assert container["memory_request_mib"] == 2048
    assert scenario["policy"]["kubernetes"]["hpa"] == {
        "min_replicas": 2,
        "max_replicas": 12,
        "target_cpu_utilization": 0.7,
    }
    assert any("autoscaling/v1" in warning for warning in result.warnings)
    assert scenario["cluster"]["node_type"] == "m5.2xlarge"
    assert scenario["cluster"]["initial_nodes"] == 3
    assert scenario["cluster"]["reserved_cpu_m"] == 90
    short_run_conserves(result)


def test_unknown_node_capacity_adds_an_instance_type(tmp_path: Path) -> None:
    node = (
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
        "status: {capacity: {cpu: '6', memory: 24Gi}}\n"
    )
    deployment = (MANIFESTS / "deployment_list.yaml").read_text()
    (tmp_path / "nodes.yaml").write_text(node)
    (tmp_path / "list.yaml").write_text(deployment)
    result = import_kubernetes([tmp_path / "list.yaml", tmp_path / "nodes.yaml"])
    cluster = result.scenario["cluster"]
    assert cluster["node_type"] == "node-6cpu-24576mib"
    assert cluster["instance_types"]["node-6cpu-24576mib"]["vcpu"] == 6
    assert any("price_per_hour_usd" in assumption for assumption in result.assumptions)
    Scenario.model_validate(result.scenario)


def test_without_hpa_replicas_are_held(tmp_path: Path) -> None:
    text = (
        (MANIFESTS / "helm_rendered.yaml").read_text().split("# Source: checkout/templates/hpa")[0]
    )
    path = tmp_path / "no_hpa.yaml"
    path.write_text(text)
    hpa = import_kubernetes([path]).scenario["policy"]["kubernetes"]["hpa"]
    assert hpa == {"min_replicas": 4, "max_replicas": 4}


def test_cli_writes_a_valid_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "k8s.yaml"
    code, _, err = call(
        [
            "import",
            "k8s",
            str(MANIFESTS / "helm_rendered.yaml"),
            str(MANIFESTS / "nodes.yaml"),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert code == 0
    assert "warning: Service/checkout (helm_rendered.yaml): not modelled" in err.splitlines()
    assert "# ASSUMED:" in out.read_text()
    assert call(["validate", str(out)], capsys)[0] == 0


DEPLOYMENT = """apiVersion: {version}
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    spec:
      containers: [{{name: web, image: web}}]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a\n", "bad.yaml:3: invalid YAML"),
        (
            DEPLOYMENT.format(version="apps/v1beta1"),
            "unknown apiVersion apps/v1beta1 for Deployment in",
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "no Deployment found in"),
        (
            DEPLOYMENT.format(version="apps/v1")
            + "---\napiVersion: autoscaling/v2beta1\nkind: HorizontalPodAutoscaler\n"
            "metadata: {name: web}\nspec: {scaleTargetRef: {kind: Deployment, name: web}, "
            "maxReplicas: 3}\n",
            "unknown apiVersion autoscaling/v2beta1 for HorizontalPodAutoscaler",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
            "spec: {template: {spec: {containers: []}}}\n",
            "has no containers",
        ),
        ("- just\n- a list\n", "document 1 is not a Kubernetes object"),
    ],
    ids=[
        "malformed-yaml",
        "unknown-deployment-version",
        "no-deployment",
        "unknown-hpa-version",
        "no-containers",
        "not-an-object",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = call(["import", "k8s", str(path)], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert expected in err
    assert "bad.yaml" in err


def test_missing_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(["import", "k8s", "does-not-exist.yaml"], capsys)
    assert code == 2
    assert err == "error: does-not-exist.yaml: file not found\n"
