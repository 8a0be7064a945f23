"""The Helm chart: ``helm lint`` and ``helm template`` for the defaults and every shipped
values file; the rendered core kinds validated against Kubernetes' schemas
(kubernetes-validate) and the KEDA objects against KEDA's CRD schemas
(@kubernetes-models/keda, under node); and what the chart promises, read off the manifests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.chart import CHART, TOOLS, VALUES_FILES, find, helm, render, tool

VALIDATOR = Path(__file__).parent / "keda_validate.mjs"
K8S_VERSION = "1.33.0"
METRICS = [
    "--metrics-port",
    "9101",
    "--metrics-host",
    "0.0.0.0",
]  # the kubectl of the layer helm comes from (v33)
CASES = [(), *((name,) for name in VALUES_FILES)]
IDS = ["defaults", *VALUES_FILES]


def test_the_shipped_values_files_are_the_expected_ones() -> None:
    assert VALUES_FILES == ["values-gpu.yaml", "values-prometheus.yaml", "values-remote.yaml"]


@pytest.mark.parametrize("values", CASES, ids=IDS)
def test_lint_template_and_validate(values: tuple[str, ...]) -> None:
    import kubernetes_validate

    args = ["lint", "--strict", str(CHART)]
    for name in values:
        args += ["-f", str(CHART / name)]
    helm(*args)
    docs = render(*values)
    keda = [d for d in docs if d["apiVersion"].startswith("keda.sh/")]
    # the Prometheus Operator's kinds have no schema here
    core = [d for d in docs if d not in keda and d["kind"] not in ("ServiceMonitor", "PodMonitor")]
    assert core and keda
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    validate_keda(keda)


def validate_keda(objects: list[dict[str, Any]]) -> None:
    node_modules = TOOLS / "npm" / "node_modules"
    if not (node_modules / "@kubernetes-models" / "keda").exists():
        if os.environ.get("CI"):
            raise RuntimeError("@kubernetes-models/keda is missing: run .ci/deploy-tools")
        pytest.skip("@kubernetes-models/keda not installed: run .ci/deploy-tools")
    done = subprocess.run(
        [
            str(tool("node")),
            str(CHART.parents[2] / "tests" / "keda_validate.mjs"),
            str(node_modules),
        ],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("valid ") == len(objects)


def test_the_validators_refuse_a_broken_manifest() -> None:
    """Both checks can fail: a Deployment with a wrong type, a ScaledObject without a target."""
    import kubernetes_validate

    docs = render()
    deployment = find(docs, "Deployment", "-worker-studio")
    deployment["spec"]["replicas"] = "many"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    scaled = find(docs, "ScaledObject", "-worker-studio")
    del scaled["spec"]["scaleTargetRef"]
    with pytest.raises(AssertionError, match="scaleTargetRef"):
        validate_keda([scaled])


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def test_the_defaults_api_and_studio_pool() -> None:
    docs = render()
    api = find(docs, "Deployment", "-api")
    c = container(api)
    assert c["args"][:1] == ["serve"] and "--workers" in c["args"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "replicas" not in api["spec"]  # the HPA owns it
    assert find(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"].endswith("-api")
    assert find(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    for d in (api, find(docs, "Deployment", "-worker-studio")):
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container(d)["securityContext"]["readOnlyRootFilesystem"] is True

    worker = find(docs, "Deployment", "-worker-studio")
    c = container(worker)
    assert c["args"] == ["worker", "--engine", "studio", *METRICS]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9101, "protocol": "TCP"}]
    assert "replicas" not in worker["spec"]  # KEDA owns it, from zero
    assert env(c)["TWOSHOT_DRAIN_SECONDS"] == "30"
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 45
    assert "nvidia.com/gpu" not in json.dumps(c["resources"])

    scaled = find(docs, "ScaledObject", "-worker-studio")
    assert scaled["spec"]["minReplicaCount"] == 0 and scaled["spec"]["cooldownPeriod"] == 300
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    auth = find(docs, "TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    (ref,) = auth["spec"]["secretTargetRef"]
    secret = find(docs, "Secret", "-secrets")
    assert ref["name"] == secret["metadata"]["name"]
    # KEDA speaks libpq, twoshot SQLAlchemy: the same server either way
    assert secret["stringData"][ref["key"]].startswith("postgresql://twoshot:")
    assert secret["stringData"]["database-url"].startswith("postgresql+psycopg://twoshot:")

    job = find(docs, "Job")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"]
    assert hooks == "pre-install,pre-upgrade" and container(job)["args"] == ["migrate"]
    # hooks run before the release's Secret exists: the Job reads a hook Secret of its own
    url_from = env(container(job))["TWOSHOT_DATABASE_URL"]["secretKeyRef"]["name"]
    hook_secret = find(docs, "Secret", "-migrations")
    assert url_from == hook_secret["metadata"]["name"]
    assert "pre-install" in hook_secret["metadata"]["annotations"]["helm.sh/hook"]


def test_gpu_pools_take_cards_models_and_a_longer_grace() -> None:
    docs = render("values-gpu.yaml")
    qwen = find(docs, "Deployment", "-worker-qwen-edit")
    c = container(qwen)
    pod = qwen["spec"]["template"]["spec"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["image"].startswith("twoshot-gpu:")
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["terminationGracePeriodSeconds"] == 120 + 15
    assert env(c)["TWOSHOT_MODEL_DIR"] == "/models/Qwen-Image-Edit-2509"
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in c["volumeMounts"]
    assert find(docs, "Deployment", "-worker-studio")  # the CPU pool stays
    assert len([d for d in docs if d["kind"] == "ScaledObject"]) == 3


def test_remote_pools_hold_a_token_and_no_database() -> None:
    docs = render("values-remote.yaml")
    assert not [d for d in docs if d["kind"] in ("Job", "HorizontalPodAutoscaler")]
    worker = find(docs, "Deployment", "-worker-qwen-edit")
    c = container(worker)
    assert c["args"] == [
        "worker",
        "--engine",
        "qwen-edit",
        "--server",
        "https://api.example.com",
        *METRICS,
    ]
    variables = env(c)
    assert "TWOSHOT_DATABASE_URL" not in variables and "AWS_ACCESS_KEY_ID" not in variables
    token = variables["TWOSHOT_WORKER_TOKEN"]["secretKeyRef"]
    assert find(docs, "Secret")["metadata"]["name"] == token["name"]
    (trigger,) = find(docs, "ScaledObject")["spec"]["triggers"]
    assert trigger["type"] == "metrics-api"
    assert trigger["metadata"]["url"] == "https://api.example.com/worker/queue-depth"
    assert trigger["metadata"]["valueLocation"] == "engines.qwen-edit"


def test_the_prometheus_switch() -> None:
    docs = render("values-prometheus.yaml")
    (trigger,) = find(docs, "ScaledObject")["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert 'max(twoshot_queue_depth{engine="studio"})' in trigger["metadata"]["query"]
    assert not [d for d in docs if d["kind"] == "TriggerAuthentication"]
    monitor = find(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    workers = find(docs, "PodMonitor")["spec"]
    assert workers["podMetricsEndpoints"][0]["port"] == "metrics"
    assert workers["selector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"


def test_every_command_the_chart_runs_is_a_twoshot_command() -> None:
    from click.testing import CliRunner

    from twoshot.cli import main

    docs = render("values-gpu.yaml") + render("values-remote.yaml")
    pods = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "Job")]
    commands = {c["args"][0] for pod in pods for c in pod["containers"]}
    assert commands == {"serve", "worker", "migrate"}
    for command in commands:
        assert command in main.commands
    # and the options they pass exist
    for pod in pods:
        for c in pod["containers"]:
            options = [a for a in c["args"] if a.startswith("--")]
            usage = CliRunner().invoke(main, [c["args"][0], "--help"]).output
            assert all(option in usage for option in options), (options, usage)


def test_the_images_run_as_a_user_and_hold_no_weights() -> None:
    """What the Dockerfile promises, read off it (the images themselves are built by hand:
    docs/deploy.md, "Building the images")."""
    text = (CHART.parents[2] / "Dockerfile").read_text()
    stages: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip()
            stages[current] = []
        elif current:
            stages[current].append(line)
    assert set(stages) == {"cpu-build", "cpu", "gpu-build", "gpu"}
    for final in ("cpu", "gpu"):
        body = "\n".join(stages[final])
        assert "USER 10001:10001" in body and "TWOSHOT_MODEL_DIR=/models" in body
        assert f"COPY --from={final}-build /opt/twoshot /opt/twoshot" in body
        assert "COPY" not in body.replace(f"COPY --from={final}-build", "")  # nothing else
        assert "import twoshot.cli, cv2, mediapipe, dlib" in body  # its libraries load
    assert "diffusion" in "\n".join(stages["gpu-build"])
    assert "diffusion" not in "\n".join(stages["cpu-build"])
    lines = (CHART.parents[2] / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignored[:1] == ["*"]  # only what is let back in: pyproject.toml, README.md, src/
    assert {"!pyproject.toml", "!README.md", "!src/"} <= set(ignored)
