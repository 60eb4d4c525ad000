"""TeamsAdapter: prometheus-msteams in Workflows mode, its config in a Secret, its port never exposed."""

import pytest

from plan_helpers import ADAPTER_DIGEST, WEBHOOK, containers, k8s, plain, scenario
from trailwatch.render.msteams import CONNECTOR_NAME, card_template, connector_config

ADAPTER_IMAGE = "quay.io/prometheusmsteams/prometheus-msteams:v1.5.4"


def adapter_resources(rec):
    return [r for r in rec.resources if "msteams" in r.name]


def test_kubernetes_connector_config_is_a_secret_from_a_secret_output():
    rec = scenario("k8s-adapter")
    secret = k8s(rec, "Secret", "msteams")
    body = secret.inputs
    assert body["type"] == "Opaque"
    assert plain(body["stringData"]) == {"connectors.yaml": connector_config(CONNECTOR_NAME, WEBHOOK)}
    from pulumi.runtime import rpc
    assert rpc.is_rpc_secret(body["stringData"])  # wrapped in the request, so encrypted in state
    assert "data" not in body


def test_kubernetes_card_template_is_a_config_map_without_the_url():
    cm = plain(k8s(scenario("k8s-adapter"), "ConfigMap", "msteams").inputs)
    assert cm["data"] == {"card.tmpl": card_template()}


def test_kubernetes_deployment_runs_workflow_mode_from_the_mounted_files():
    rec = scenario("k8s-adapter")
    dep = k8s(rec, "Deployment", "msteams")
    (c,) = containers(dep)
    assert c["image"] == ADAPTER_IMAGE
    assert "-workflow-webhook=true" in c["args"]
    assert "-config-file=/etc/msteams/connectors.yaml" in c["args"]
    assert "-template-file=/etc/msteams-template/card.tmpl" in c["args"]
    assert all(e.get("name") != "TEAMS_INCOMING_WEBHOOK_URL" for e in c.get("env", []))
    pod = plain(dep.inputs)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret = k8s(rec, "Secret", "msteams")
    assert volumes["connectors"]["secret"]["secretName"] == secret.name
    assert volumes["connectors"]["secret"]["defaultMode"] == 0o440
    assert volumes["template"]["configMap"]["name"] == k8s(rec, "ConfigMap", "msteams").name
    assert secret.urn in dep.property_dependencies["spec"]
    assert all(m["readOnly"] for m in c["volumeMounts"])


def test_kubernetes_adapter_pod_is_hardened_with_probes_and_limits():
    dep = k8s(scenario("k8s-adapter"), "Deployment", "msteams")
    pod = plain(dep.inputs)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["fsGroup"] == 65534
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"]) == (65534, 65534)
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        # /metrics, not /config: a probe must not fetch the webhook URL
        assert probe["httpGet"] == {"path": "/metrics", "port": 2000}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"} and set(c["resources"]["requests"]) == {"cpu", "memory"}


def test_kubernetes_service_is_cluster_ip_only():
    svc = plain(k8s(scenario("k8s-adapter"), "Service", "msteams").inputs)
    assert svc["spec"]["type"] == "ClusterIP"
    assert not any(k in svc["spec"] for k in ("externalIPs", "loadBalancerIP", "loadBalancerSourceRanges"))
    assert svc["spec"]["ports"] == [{"name": "http", "port": 2000, "targetPort": "http", "protocol": "TCP"}]


def test_kubernetes_adapter_url_is_the_in_cluster_service():
    rec = scenario("k8s-adapter")
    svc = plain(k8s(rec, "Service", "msteams").inputs)
    assert rec.outputs["teamsAdapterUrl"] == f"http://{svc['metadata']['name']}.monitoring.svc:2000/{CONNECTOR_NAME}"
    assert ".secops.svc:2000/" in scenario("k8s-custom").outputs["teamsAdapterUrl"]


def test_docker_adapter_binds_loopback_and_uploads_the_config_as_a_secret():
    rec = scenario("docker-adapter")
    (container,) = [r for r in rec.resources if r.type == "docker:index/container:Container" and "msteams" in r.name]
    from pulumi.runtime import rpc
    assert rpc.is_rpc_secret(container.inputs["uploads"])
    c = plain(container.inputs)
    assert c["ports"] == [{"internal": 2000, "external": 2000, "ip": "127.0.0.1", "protocol": "tcp"}]
    uploads = {u["file"]: u for u in c["uploads"]}
    conn = uploads["/etc/msteams/connectors.yaml"]
    assert conn["content"] == connector_config(CONNECTOR_NAME, WEBHOOK)
    assert (conn["owner"], conn["permissions"]) == ("65534", "0400")
    assert uploads["/etc/msteams/card.tmpl"]["content"] == card_template()
    assert [v["containerPath"] for v in c["volumes"]] == ["/etc/msteams"]
    assert "-workflow-webhook=true" in c["command"] and not c.get("envs")
    assert c["user"] == "65534:65534" and c["readOnly"] is True and c["memory"] == 64
    assert c["capabilities"] == {"drops": ["ALL"]} and c["restart"] == "unless-stopped"
    (image,) = [r for r in rec.resources if r.type == "docker:index/remoteImage:RemoteImage" and "msteams" in r.name]
    assert image.inputs["name"] == ADAPTER_IMAGE
    assert rec.outputs["teamsAdapterUrl"] == f"http://127.0.0.1:2000/{CONNECTOR_NAME}"


@pytest.mark.parametrize("name", ["k8s-native", "docker-native-key", "none-native", "none-adapter"])
def test_no_adapter_in_native_mode_or_without_a_runtime(name):
    rec = scenario(name)
    assert adapter_resources(rec) == []
    assert rec.of_type("trailwatch:index:TeamsAdapter") == []
    assert "teamsAdapterUrl" not in rec.outputs


def test_pinned_adapter_image_setting_is_used():
    (c,) = containers(k8s(scenario("k8s-custom"), "Deployment", "msteams"))
    assert c["image"] == ADAPTER_DIGEST
