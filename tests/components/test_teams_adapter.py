"""TeamsAdapter: trailwatch's adapter image (built into ECR or named by digest), its secrets as files, exactly
logs:FilterLogEvents on the log group, and NetworkPolicies for it and the exporter."""

import json

import pytest
from pulumi.runtime import rpc

from plan_helpers import (
    ADAPTER_DIGEST, OIDC_ARN, OIDC_ISSUER, SIG, WEBHOOK, containers, k8s, plain, plaintext_paths, scenario, stack_of,
)
from components.teams_adapter import IMAGE_SOURCES, REPO_ROOT, source_hash
from trailwatch.render.adapter import render_adapter_config

IMAGE = "docker-build:index:Image"
REPO = "aws:ecr/repository:Repository"


def adapter_policy_doc(rec):
    (policy,) = [r for r in rec.of_type("aws:iam/policy:Policy") if "adapter" in r.name]
    return json.loads(plain(policy.inputs)["policy"])


def test_image_is_built_from_the_dockerfile_into_an_immutable_scanned_ecr_repository():
    rec = scenario("k8s-adapter")
    repo = plain(rec.one(REPO).inputs)
    assert repo["imageTagMutability"] == "IMMUTABLE" and repo["imageScanningConfiguration"] == {"scanOnPush": True}
    image = rec.one(IMAGE)
    body = plain(image.inputs)
    assert body["dockerfile"]["location"].endswith("docker/adapter/Dockerfile") and body["push"] is True
    assert body["context"]["location"] == str(REPO_ROOT)
    (tag,) = body["tags"]
    assert tag.endswith(f":src-{source_hash()}") and ".dkr.ecr." in tag
    (registry,) = body["registries"]
    assert rpc.is_rpc_secret(image.inputs["registries"])  # the ECR password stays encrypted in state
    assert registry["address"] in tag
    (c,) = containers(k8s(rec, "Deployment", "adapter"))
    assert c["image"] == tag.rsplit(":", 1)[0] + "@sha256:" + "c" * 64  # the pushed digest, not a tag
    assert rec.outputs["teamsAdapterImage"] == c["image"]


def test_source_hash_covers_every_file_the_image_copies():
    dockerfile = (REPO_ROOT / "docker/adapter/Dockerfile").read_text()
    for source in IMAGE_SOURCES:
        assert source in dockerfile or source.startswith("docker/adapter/Dockerfile")
    assert len(source_hash()) == 16 and source_hash() == source_hash()


def test_a_prebuilt_image_by_digest_builds_nothing():
    rec = scenario("k8s-custom")
    assert rec.of_type(IMAGE) == [] and rec.of_type(REPO) == []
    (c,) = containers(k8s(rec, "Deployment", "adapter"))
    assert c["image"] == ADAPTER_DIGEST


def test_iam_is_exactly_filter_log_events_on_this_log_group_via_irsa():
    rec = scenario("k8s-adapter")
    (statement,) = adapter_policy_doc(rec)["Statement"]
    group = plain(rec.one("aws:cloudwatch/logGroup:LogGroup").inputs)["name"]
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    assert statement["Action"] == ["logs:FilterLogEvents"] and statement["Effect"] == "Allow"
    assert statement["Resource"] == [arn, f"{arn}:*"]
    (role,) = [r for r in rec.of_type("aws:iam/role:Role") if "adapter" in r.name]
    trust = json.loads(plain(role.inputs)["assumeRolePolicy"])
    (s,) = trust["Statement"]
    assert s["Principal"] == {"Federated": OIDC_ARN}
    assert s["Condition"]["StringEquals"] == {f"{OIDC_ISSUER}:sub": "system:serviceaccount:monitoring:"
                                              "trailwatch-teams-adapter", f"{OIDC_ISSUER}:aud": "sts.amazonaws.com"}
    sa = plain(k8s(rec, "ServiceAccount", "adapter").inputs)
    assert sa["metadata"]["name"] == "trailwatch-teams-adapter"
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]


def test_kubernetes_secrets_are_files_from_secret_outputs_and_config_is_a_config_map():
    rec = scenario("k8s-adapter")
    secret = k8s(rec, "Secret", "adapter-secrets")
    assert rpc.is_rpc_secret(secret.inputs["stringData"])
    data = plain(secret.inputs["stringData"])
    assert data["webhook-url"] == WEBHOOK and set(data) == {"webhook-url", "token"}
    cm = plain(k8s(rec, "ConfigMap", "adapter-config").inputs)
    assert cm["data"] == {"config.json": render_adapter_config(stack_of("k8s-adapter"))}
    dep = k8s(rec, "Deployment", "adapter")
    (c,) = containers(dep)
    assert c["args"] == ["--config", "/etc/trailwatch-adapter/config.json",
                         "--webhook-url-file", "/etc/trailwatch-adapter/secrets/webhook-url",
                         "--token-file", "/etc/trailwatch-adapter/secrets/token", "--listen", "0.0.0.0:8080"]
    assert c["env"] == [{"name": "AWS_REGION", "value": "us-east-1"}]
    pod = plain(dep.inputs)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["secrets"]["secret"] == {"secretName": secret.name, "defaultMode": 0o440}
    assert all(m["readOnly"] for m in c["volumeMounts"])
    for reg in rec.resources:  # the URL's credential only ever inside a secret
        assert plaintext_paths(reg.inputs, SIG) == [], reg.name
    assert SIG not in json.dumps(rec.outputs, default=str)


def test_kubernetes_adapter_pod_is_hardened():
    dep = k8s(scenario("k8s-adapter"), "Deployment", "adapter")
    pod = plain(dep.inputs)["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"]) == (65534, 65534) and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    for probe in (c["livenessProbe"], c["readinessProbe"]):
        assert probe["httpGet"] == {"path": "/healthz", "port": 8080}
    svc = plain(k8s(scenario("k8s-adapter"), "Service", "adapter").inputs)
    assert svc["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("part,port,clients", [("adapter-netpol", 8080, ["alertmanager", "prometheus"]),
                                               ("exporter-netpol", 9106, ["prometheus"])])
def test_network_policies_admit_only_the_clients_and_allow_only_dns_and_https(part, port, clients):
    """The adapter: Alertmanager posts cards, Prometheus scrapes /metrics; the exporter: Prometheus only."""
    rec = scenario("k8s-adapter")
    spec = plain(k8s(rec, "NetworkPolicy", part).inputs)["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    assert [peer["podSelector"] for peer in rule["from"]] == [
        {"matchLabels": {"app.kubernetes.io/name": client}} for client in clients]
    for peer in rule["from"]:
        assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    ports = sorted((p["protocol"], p["port"]) for e in spec["egress"] for p in e["ports"])
    assert ports == [("TCP", 53), ("TCP", 443), ("UDP", 53)]
    workload = "adapter" if part.startswith("adapter") else "exporter"
    dep = plain(k8s(rec, "Deployment", f"-{workload}" if workload == "exporter" else "adapter").inputs)
    assert spec["podSelector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()


def test_docker_adapter_binds_loopback_uploads_secrets_and_uses_the_host_role():
    rec = scenario("docker-adapter")
    (container,) = [r for r in rec.resources if r.type == "docker:index/container:Container" and "adapter" in r.name]
    assert rpc.is_rpc_secret(container.inputs["uploads"])
    c = plain(container.inputs)
    assert c["ports"] == [{"internal": 8080, "external": 8080, "ip": "127.0.0.1", "protocol": "tcp"}]
    uploads = {u["file"]: u for u in c["uploads"]}
    assert uploads["/etc/trailwatch-adapter/secrets/webhook-url"]["content"] == WEBHOOK
    assert uploads["/etc/trailwatch-adapter/secrets/token"]["permissions"] == "0400"
    config = uploads["/etc/trailwatch-adapter/config.json"]["content"]
    assert config == render_adapter_config(stack_of("docker-adapter"))
    assert c["user"] == "65534:65534" and c["readOnly"] is True and c["capabilities"] == {"drops": ["ALL"]}
    assert not any("sig=" in e for e in c.get("envs", []))
    assert "uploads" in container.additional_secret_outputs
    (attach,) = [r for r in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                 if "adapter-host" in r.name]
    (host_role,) = [r for r in rec.of_type("aws:iam/role:Role") if "exporter-host-role" in r.name]
    assert host_role.urn in attach.property_dependencies["role"] and plain(attach.inputs)["role"] == host_role.name
    assert plain(rec.one(IMAGE).inputs)["load"] is True
    assert rec.outputs["teamsAdapterUrl"] == "http://127.0.0.1:8080/alerts"


@pytest.mark.parametrize("name", ["k8s-native", "docker-native-key", "none-native", "none-adapter"])
def test_no_adapter_in_native_mode_or_without_a_runtime(name):
    rec = scenario(name)
    assert rec.of_type("trailwatch:index:TeamsAdapter") == [] and rec.of_type(IMAGE) == []
    assert "teamsAdapterUrl" not in rec.outputs


def test_adapter_service_monitor_scrapes_it_as_this_stacks_adapter_job():
    """The Teams-failure rule selects job trailwatch-teams-adapter and trailwatch_stack: the ServiceMonitor must
    yield exactly those (job from the Service's label, stack from a relabeling)."""
    rec = scenario("k8s-adapter")
    monitor = plain(k8s(rec, "ServiceMonitor", "adapter-monitor").inputs)
    svc = plain(k8s(rec, "Service", "adapter").inputs)
    job_label = monitor["spec"]["jobLabel"]
    assert svc["metadata"]["labels"][job_label] == "trailwatch-teams-adapter"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "trailwatch_stack",
                                        "replacement": stack_of("k8s-adapter").name}]
