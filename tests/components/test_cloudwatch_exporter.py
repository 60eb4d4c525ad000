"""CloudWatchExporter: least-privilege IAM, IRSA scoped to one service account, a hardened pod, Docker variant."""

import hashlib
import json

import pytest
import yaml

from components.args import ComponentArgsError
from components.cloudwatch_exporter import read_stack
from plan_helpers import (
    EXPORTER_DIGEST, OIDC_ARN, OIDC_ISSUER, SCENARIOS, containers, k8s, plain, plaintext_paths, recording, scenario,
    stack_of,
)
from stacks import deployer_exception, make_stack
from trailwatch.contract import EXPORTER_SCRAPE_JOB
from trailwatch.render import render_exporter_config
from trailwatch.settings import StackSettings

POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
EXACT_ACTIONS = {"cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"}


def exporter_child(rec, type_, part=""):
    found = [r for r in rec.resources if r.type == type_ and "exporter" in r.name and part in r.name]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.mark.parametrize("name", ["k8s-adapter", "docker-adapter", "docker-native-key"])
def test_iam_policy_is_exactly_the_three_read_actions(name):
    doc = json.loads(exporter_child(scenario(name), POLICY).inputs["policy"])
    (statement,) = doc["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) == EXACT_ACTIONS and len(statement["Action"]) == 3
    assert statement["Resource"] == "*"  # these actions have no resource-level permissions
    assert "Condition" not in statement and "NotAction" not in statement


def test_irsa_trust_is_this_service_account_only():
    rec = scenario("k8s-adapter")
    sa = k8s(rec, "ServiceAccount", "exporter")
    meta = plain(sa.inputs)["metadata"]
    doc = json.loads(exporter_child(rec, ROLE, "irsa").inputs["assumeRolePolicy"])
    (statement,) = doc["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        f"{OIDC_ISSUER}:sub": f"system:serviceaccount:monitoring:{meta['name']}",
        f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
    }}


def test_irsa_follows_the_namespace_setting():
    rec = scenario("k8s-custom")
    doc = json.loads(exporter_child(rec, ROLE, "irsa").inputs["assumeRolePolicy"])
    sub = doc["Statement"][0]["Condition"]["StringEquals"][f"{OIDC_ISSUER}:sub"]
    assert sub.startswith("system:serviceaccount:secops:")
    for reg in rec.resources:
        if reg.type.startswith("kubernetes:"):
            assert plain(reg.inputs)["metadata"]["namespace"] == "secops", reg.name


def test_service_account_carries_the_role_and_the_role_gets_the_policy():
    rec = scenario("k8s-adapter")
    role = exporter_child(rec, ROLE, "irsa")
    sa = plain(k8s(rec, "ServiceAccount", "exporter").inputs)
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == \
        f"arn:aws:iam::123456789012:role/{role.name}"
    attach = exporter_child(rec, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert role.urn in attach.property_dependencies["role"]
    assert exporter_child(rec, POLICY).urn in attach.property_dependencies["policyArn"]
    assert rec.of_type("aws:iam/user:User") == [] and rec.of_type("aws:iam/accessKey:AccessKey") == []


def test_deployment_pod_is_hardened():
    rec = scenario("k8s-adapter")
    dep = plain(k8s(rec, "Deployment", "exporter").inputs)
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65534 and pod["securityContext"]["runAsGroup"] == 65534
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == plain(k8s(rec, "ServiceAccount", "exporter").inputs)["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is True  # IRSA's projected token
    (c,) = containers(k8s(rec, "Deployment", "exporter"))
    sc = c["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (65534, 65534, True)
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc.get("privileged") is not True
    assert set(c["resources"]["requests"]) == {"cpu", "memory"} and set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_deployment_probes_and_port():
    (c,) = containers(k8s(scenario("k8s-adapter"), "Deployment", "exporter"))
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": 9106}
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": 9106}
    assert c["ports"] == [{"name": "http", "containerPort": 9106, "protocol": "TCP"}]


def test_image_is_the_pinned_setting():
    (c,) = containers(k8s(scenario("k8s-adapter"), "Deployment", "exporter"))
    assert c["image"] == "prom/cloudwatch-exporter:v0.18.0"
    (c,) = containers(k8s(scenario("k8s-custom"), "Deployment", "exporter"))
    assert c["image"] == EXPORTER_DIGEST


def test_config_map_holds_the_rendered_config_and_the_pod_mounts_it():
    rec = scenario("k8s-adapter")
    cm = plain(k8s(rec, "ConfigMap", "exporter-config").inputs)
    assert cm["data"] == {"config.yml": render_exporter_config(stack_of("k8s-adapter"))}
    assert "name" not in cm["metadata"]  # auto-named: new content, new name, rolled pod
    dep = k8s(rec, "Deployment", "exporter")
    pod = plain(dep.inputs)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    cm_reg = k8s(rec, "ConfigMap", "exporter-config")
    assert volumes["config"]["configMap"]["name"] == cm_reg.name  # the mock names it after the resource
    assert cm_reg.urn in dep.property_dependencies["spec"]
    (c,) = pod["containers"]
    assert c["args"] == ["/config/config.yml"]
    assert {"name": "config", "mountPath": "/config", "readOnly": True} in c["volumeMounts"]


def checksum_annotation(rec) -> str:
    return plain(k8s(rec, "Deployment", "exporter").inputs)["spec"]["template"]["metadata"]["annotations"][
        "checksum/config"]


def test_config_checksum_annotation_follows_the_config():
    rec = scenario("k8s-adapter")
    text = plain(k8s(rec, "ConfigMap", "exporter-config").inputs)["data"]["config.yml"]
    assert checksum_annotation(rec) == hashlib.sha256(text.encode()).hexdigest()
    assert rec.outputs["exporterConfigChecksum"] == checksum_annotation(rec)
    changed = recording(**{**SCENARIOS["k8s-adapter"], "alertWindowMinutes": 40})
    assert checksum_annotation(changed) != checksum_annotation(rec)
    # same config, same checksum: no needless rollouts (k8s-native differs only outside the exporter config)
    assert checksum_annotation(scenario("k8s-native")) == checksum_annotation(rec)


def test_service_is_cluster_ip_and_selects_the_pod():
    rec = scenario("k8s-adapter")
    svc = plain(k8s(rec, "Service", "exporter").inputs)
    assert svc["spec"]["type"] == "ClusterIP"
    assert not any(k in svc["spec"] for k in ("externalIPs", "loadBalancerIP", "externalName"))
    assert all("nodePort" not in p for p in svc["spec"]["ports"])
    pod_labels = plain(k8s(rec, "Deployment", "exporter").inputs)["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()


def test_service_monitor_is_selected_by_prometheus_and_scrapes_the_service():
    rec = scenario("k8s-custom")
    sm = k8s(rec, "ServiceMonitor", "exporter")
    assert sm.type == "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
    body = plain(sm.inputs)
    assert body["apiVersion"] == "monitoring.coreos.com/v1" and body["kind"] == "ServiceMonitor"
    assert body["metadata"]["labels"]["release"] == "prom-stack"
    svc = plain(k8s(rec, "Service", "exporter").inputs)
    spec = body["spec"]
    assert spec["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": ["secops"]}
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics" and endpoint["interval"] == "60s"
    assert int(endpoint["scrapeTimeout"][:-1]) <= 60
    # job label = what the exporter-health alerts select on
    assert svc["metadata"]["labels"][spec["jobLabel"]] == EXPORTER_SCRAPE_JOB
    # every series of this scrape carries the stack the rules select on (camelCase: the CR spec is untyped)
    assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "trailwatch_stack",
                                        "replacement": stack_of("k8s-custom").name}]


def test_default_runtime_registers_no_exporter():
    rec = scenario("none-adapter")
    assert not [r for r in rec.resources if "exporter" in r.name or r.type == "trailwatch:index:CloudWatchExporter"]


# --- Docker ---------------------------------------------------------------------------------------------------

def docker_container(rec):
    found = [r for r in rec.resources if r.type == "docker:index/container:Container" and "exporter" in r.name]
    assert len(found) == 1
    return found[0]


def test_docker_container_is_hardened_and_bound_to_loopback():
    rec = scenario("docker-adapter")
    c = plain(docker_container(rec).inputs)
    assert c["ports"] == [{"internal": 9106, "external": 9106, "ip": "127.0.0.1", "protocol": "tcp"}]
    assert c["user"] == "65534:65534" and c["readOnly"] is True
    assert c["capabilities"] == {"drops": ["ALL"]} and "no-new-privileges:true" in c["securityOpts"]
    assert c["memory"] == 512 and c["restart"] == "unless-stopped"
    # the image has bash but no curl/wget (eclipse-temurin jre-noble base): probe /-/healthy over /dev/tcp
    assert c["healthcheck"]["tests"] == [
        "CMD", "bash", "-c",
        "exec 3<>/dev/tcp/127.0.0.1/9106 && printf 'GET /-/healthy HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3"
        " && head -n 1 <&3 | grep -q ' 200 '"]
    assert not {"curl", "wget"} & set(" ".join(c["healthcheck"]["tests"]).split())
    assert not c.get("privileged") and not c.get("publishAllPorts")


def test_docker_image_is_pinned_and_config_uploaded_into_a_volume():
    rec = scenario("docker-adapter")
    image = [r for r in rec.resources if r.type == "docker:index/remoteImage:RemoteImage" and "exporter" in r.name]
    (image,) = image
    assert image.inputs["name"] == "prom/cloudwatch-exporter:v0.18.0"
    container = docker_container(rec)
    c = plain(container.inputs)
    assert image.urn in container.property_dependencies["image"]
    (upload,) = c["uploads"]
    assert upload["file"] == "/config/config.yml"
    assert upload["content"] == render_exporter_config(stack_of("docker-adapter"))
    # Docker only copies into a read-only container through a volume
    assert [v["containerPath"] for v in c["volumes"]] == ["/config"]
    assert c["command"] == ["/config/config.yml"]


def test_docker_default_credentials_are_an_instance_role_not_keys():
    rec = scenario("docker-adapter")
    assert rec.of_type("aws:iam/user:User") == [] and rec.of_type("aws:iam/accessKey:AccessKey") == []
    role = exporter_child(rec, ROLE, "host")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    profile = exporter_child(rec, "aws:iam/instanceProfile:InstanceProfile")
    assert role.urn in profile.property_dependencies["role"]
    assert not plain(docker_container(rec).inputs).get("envs")
    assert rec.outputs["exporterInstanceProfile"] == profile.name


def test_docker_access_key_is_opt_in_and_secret():
    rec = scenario("docker-native-key")
    key = rec.one("aws:iam/accessKey:AccessKey")
    assert "secret" in key.additional_secret_outputs
    user = rec.one("aws:iam/user:User")
    attach = rec.one("aws:iam/userPolicyAttachment:UserPolicyAttachment")
    assert user.urn in attach.property_dependencies["user"]
    assert exporter_child(rec, POLICY).urn in attach.property_dependencies["policyArn"]
    container = docker_container(rec)
    envs = container.inputs["envs"]
    assert plaintext_paths(envs, "AWS_SECRET_ACCESS_KEY") == []  # the env list is a secret value
    assert any(e.startswith("AWS_SECRET_ACCESS_KEY=mock-secret-access-key-") for e in plain(envs))
    secret_value = "mock-secret-access-key-" + key.name
    for reg in rec.resources:
        assert plaintext_paths(reg.inputs, secret_value) == [], reg.name
    assert plaintext_paths(rec.outputs, secret_value) == []
    assert plaintext_paths(rec.outputs, "AKIA") == []  # even the key id is exported as a secret
    assert rec.of_type("aws:iam/instanceProfile:InstanceProfile") == []


def test_access_key_setting_is_ignored_on_kubernetes():
    rec = scenario("k8s-custom")
    assert rec.of_type("aws:iam/accessKey:AccessKey") == [] and rec.of_type("aws:iam/user:User") == []


CUSTOM = {"id": "secret_deletions", "title": "Secret deleted", "severity": "high", "metric": "SecretDeletionCount",
          "pattern": '{ $.eventName = "DeleteSecret" }', "description": "d", "runbook": "r"}


def test_config_is_rendered_from_the_filter_sets_outputs_byte_for_byte_as_the_stack_renders_it():
    """Exceptions, a custom detection and namespace, other windows and a delay: the config the exporter renders
    from MetricFilterSet's metrics and exceptedMetrics is the stack's own, and reads exactly what they write."""
    settings = {**SCENARIOS["k8s-adapter"], "customDetections": [CUSTOM], "metricNamespace": "Sec",
                "exceptions": [deployer_exception(["unauthorized_api_calls", "iam_policy_changes"])],
                "alertWindowMinutes": 40, "heartbeatMissingMinutes": 20, "exporterDelaySeconds": 60,
                "deliveryLagToleranceMinutes": 30}
    rec = recording(**settings)
    text = plain(k8s(rec, "ConfigMap", "exporter-config").inputs)["data"]["config.yml"]
    assert text == render_exporter_config(make_stack(**settings))
    reads = yaml.safe_load(text)["metrics"]
    written = rec.outputs["metrics"] + rec.outputs["exceptedMetrics"]
    assert len(rec.outputs["exceptedMetrics"]) == 2
    assert [(r["aws_namespace"], r["aws_metric_name"]) for r in reads] == [(m["namespace"], m["metric"])
                                                                             for m in written]
    periods = {r["aws_metric_name"]: r["period_seconds"] for r in reads}
    assert periods.pop("CloudTrailEventCount") == 20 * 60 and set(periods.values()) == {40 * 60}
    assert {r["delay_seconds"] for r in reads} == {60}


@pytest.mark.parametrize("metrics,excepted,message", [
    ("CloudTrailMetrics", None, "metrics: must be a list (MetricFilterSet's metrics)"),
    ([{"namespace": "N", "metric": "M", "detection": "d"}, {"metric": "X"}], None,
     "metrics[1]: must have a namespace, metric and detection (MetricFilterSet's metrics)"),
    ([], [{"namespace": "N", "metric": "", "detection": "d"}], "excepted_metrics[0]: must have a namespace, "
                                                                "metric and detection"),
])
def test_metrics_not_shaped_like_the_filter_sets_output_are_one_line_errors(metrics, excepted, message):
    with pytest.raises(ComponentArgsError) as caught:
        read_stack("prod", StackSettings(region="us-east-1"), metrics, excepted)
    assert str(caught.value).startswith(f"CloudWatchExporter: {message}")
