"""TeamsAdapter: plain-data arguments rendering the adapter's config, its image (built from the Dockerfile the
package ships into ECR, or named by digest), its secrets as files, its ledger on a writable volume, exactly
logs:FilterLogEvents on the log group, and NetworkPolicies for it and the exporter."""

import json
import re
import shutil

import pulumi
import pytest
from pulumi.runtime import rpc

import components.teams_adapter as teams_adapter
from plan_helpers import (
    ADAPTER_DIGEST, OIDC_ARN, OIDC_ISSUER, SIG, WEBHOOK, containers, k8s, plain, plaintext_paths, scenario, stack_of,
)
from components import TeamsAdapter, TeamsAdapterArgs
from components.args import ComponentArgsError
from components.teams_adapter import (
    BUILD_DIR, CONTEXT_DIR, IMAGE_SOURCES, STATE_DIR, STOP_GRACE_SECONDS, source_hash, source_path,
)
from stacks import make_stack
from trailwatch.errors import ConfigError
from trailwatch.mockrun import run_program
from trailwatch.render import render_adapter_config

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
    assert body["dockerfile"]["location"] == str(BUILD_DIR / "Dockerfile") and body["push"] is True
    assert body["context"]["location"] == str(CONTEXT_DIR)
    requirements = CONTEXT_DIR / body["buildArgs"]["REQUIREMENTS"]  # a checkout: docker/adapter/requirements.txt
    assert requirements == BUILD_DIR / "requirements.txt" and requirements.is_file()
    (tag,) = body["tags"]
    assert tag.endswith(f":src-{source_hash()}") and ".dkr.ecr." in tag
    (registry,) = body["registries"]
    assert rpc.is_rpc_secret(image.inputs["registries"])  # the ECR password stays encrypted in state
    assert registry["address"] in tag
    (c,) = containers(k8s(rec, "Deployment", "adapter"))
    assert c["image"] == tag.rsplit(":", 1)[0] + "@sha256:" + "c" * 64  # the pushed digest, not a tag
    assert rec.outputs["teamsAdapterImage"] == c["image"]


def test_source_hash_covers_every_file_the_image_copies_and_only_those_reach_the_build():
    """Every COPY source is hashed into the tag and let through by the Dockerfile's .dockerignore (a checkout's
    path and the installed package's), and nothing else of the context is."""
    dockerfile = (BUILD_DIR / "Dockerfile").read_text()
    copied = {source for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M)
              for source in sources.split() if not source.startswith("$")}
    requirements = re.search(r"^ARG REQUIREMENTS=(\S+)$", dockerfile, re.M).group(1)
    assert copied | {requirements, "docker/adapter/Dockerfile"} == set(IMAGE_SOURCES)
    ignore = (BUILD_DIR / "Dockerfile.dockerignore").read_text().split("\n")
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert ignore[ignore.index("*")] and allowed == copied | {requirements, f"trailwatch/{requirements}"}
    assert "**/__pycache__" in ignore
    assert len(source_hash()) == 16 and source_hash() == source_hash()


def test_source_hash_names_files_as_in_a_checkout_wherever_they_are(tmp_path, monkeypatch):
    """The same sources elsewhere (the installed package) hash to the same tag; one changed byte changes it."""
    for entry in IMAGE_SOURCES:
        source = source_path(entry)
        if source.is_dir():
            shutil.copytree(source, tmp_path / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tmp_path / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, tmp_path / entry)
    here = source_hash()
    monkeypatch.setattr(teams_adapter, "source_path", lambda entry: tmp_path / entry)
    assert source_hash() == here
    card = tmp_path / "trailwatch/adapter/card.py"
    card.write_text(card.read_text() + "# edited\n")
    assert source_hash() != here


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
                         "--token-file", "/etc/trailwatch-adapter/secrets/token", "--listen", "0.0.0.0:8080",
                         "--state-file", "/var/lib/trailwatch-adapter/ledger.json"]
    assert c["env"] == [{"name": "AWS_REGION", "value": "us-east-1"}]
    pod = plain(dep.inputs)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["secrets"]["secret"] == {"secretName": secret.name, "defaultMode": 0o440}
    assert [m["name"] for m in c["volumeMounts"] if not m.get("readOnly")] == ["state"]  # the ledger's, only
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
    assert plain(dep.inputs)["spec"]["replicas"] == 1  # one ledger, one pacer (see the component)
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
    assert c["command"][-2:] == ["--state-file", f"{STATE_DIR}/ledger.json"]
    (state,) = [r for r in rec.of_type("docker:index/volume:Volume") if r.name.endswith("adapter-state")]
    assert {"volumeName": state.name, "containerPath": STATE_DIR} in c["volumes"]  # outlives the container
    assert c["stopTimeout"] == c["destroyGraceSeconds"] == STOP_GRACE_SECONDS  # a stop waits for the ledger
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


def test_the_ledger_survives_container_restarts_on_a_small_emptydir_beside_a_read_only_root():
    """--state-file writes into the only writable mount: an emptyDir (the pod's), sized for a ledger of at most
    1 MB, and the pod's grace period outlasts the adapter's SIGTERM drain (after which it writes the ledger)."""
    dep = plain(k8s(scenario("k8s-adapter"), "Deployment", "adapter").inputs)
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == "state"]
    assert mount["mountPath"] == STATE_DIR and c["args"][c["args"].index("--state-file") + 1].startswith(STATE_DIR)
    (volume,) = [v for v in pod["volumes"] if v["name"] == "state"]
    assert volume == {"name": "state", "emptyDir": {"sizeLimit": "4Mi"}}
    assert pod["terminationGracePeriodSeconds"] == STOP_GRACE_SECONDS > teams_adapter.DRAIN_SECONDS


# --- plain-data arguments -----------------------------------------------------------------------------------------
CUSTOM = {"id": "secret_deletions", "title": "Secret deleted", "severity": "high", "metric": "SecretDeletionCount",
          "pattern": '{ $.eventName = "DeleteSecret" }', "description": "d", "runbook": "r"}
LOG_GROUP = "/org/cloudtrail"
ARN = f"arn:aws:logs:us-east-1:123456789012:log-group:{LOG_GROUP}"


def adapter_args(**overrides) -> TeamsAdapterArgs:
    return TeamsAdapterArgs(**{"webhook_url": WEBHOOK, "log_group_arn": ARN, "log_group_name": LOG_GROUP,
                               "region": "us-east-1", "oidc_provider_arn": OIDC_ARN, "image": ADAPTER_DIGEST,
                               **overrides})


def run_adapter(args, stack: str = "prod"):
    return run_program({}, program=lambda: TeamsAdapter("sec", args), project="consumer", stack=stack)


def test_the_config_is_rendered_from_plain_arguments_as_the_stack_would_render_it():
    """Detections, timings and intervals as arguments: the config is byte for byte the one a stack with the same
    settings renders, named for the calling Pulumi stack."""
    detections = {"enable_detections": ["access_denied"], "detection_overrides": {"root_usage": {"severity": "high"}},
                  "custom_detections": [CUSTOM]}
    timings = {"alert_window_minutes": 40, "heartbeat_missing_minutes": 35, "group_interval_seconds": 120}
    rec = run_adapter(adapter_args(**detections, **timings))
    config = plain(k8s(rec, "ConfigMap", "adapter-config").inputs)["data"]["config.json"]
    stack = make_stack("prod", existingLogGroupName=LOG_GROUP, enableDetections=["access_denied"],
                       detectionOverrides={"root_usage": {"severity": "high"}}, customDetections=[CUSTOM],
                       alertWindowMinutes=40, heartbeatMissingMinutes=35, groupIntervalSeconds=120)
    assert config == render_adapter_config(stack)
    doc = json.loads(config)
    assert doc["stack"] == "prod" and doc["log_group"] == LOG_GROUP and doc["alert_window_seconds"] == 2400
    assert doc["detections"]["secret_deletions"]["pattern"] == CUSTOM["pattern"]
    assert doc["detections"]["root_usage"]["severity"] == "high"


def test_through_the_provider_a_dict_of_inputs_builds_the_same_adapter():
    """The component package hands the component a dict (``pulumi package add``); None keeps a default."""
    inputs = {"webhookUrl": pulumi.Output.secret(WEBHOOK), "logGroupArn": ARN, "logGroupName": LOG_GROUP,
              "region": "us-east-1", "oidcProviderArn": OIDC_ARN, "image": ADAPTER_DIGEST, "namespace": None}
    from components.provider import COMPONENTS, PACKAGE
    from pulumi.provider.experimental.component import ComponentProvider

    provider = ComponentProvider(COMPONENTS, PACKAGE, version="0")
    rec = run_program({}, program=lambda: provider.construct("sec", "trailwatch:index:TeamsAdapter", inputs, None),
                      project="consumer", stack="prod")
    direct = run_adapter(adapter_args())
    assert plain(k8s(rec, "ConfigMap", "adapter-config").inputs) == plain(k8s(direct, "ConfigMap", "adapter-config")
                                                                           .inputs)
    assert plain(k8s(rec, "Deployment", "adapter").inputs)["metadata"]["namespace"] == "monitoring"
    for reg in rec.resources:
        assert plaintext_paths(reg.inputs, SIG) == [], reg.name


def test_a_pattern_from_secret_config_keeps_the_config_in_a_secret():
    rec = run_adapter(adapter_args(enable_detections=["suspicious_source_ips"], suspicious_ips=["203.0.113.7"],
                                   secret_patterns=["suspicious_source_ips"]))
    assert [r for r in rec.of_type("kubernetes:core/v1:ConfigMap") if "adapter-config" in r.name] == []
    config = k8s(rec, "Secret", "adapter-config")
    assert rpc.is_rpc_secret(config.inputs["stringData"])
    assert plaintext_paths(config.inputs, "203.0.113.7") == []
    assert "203.0.113.7" in plain(config.inputs)["stringData"]["config.json"]


@pytest.mark.parametrize("overrides,message", [
    ({"enable_detections": ["no_such"]}, "TeamsAdapter: enable_detections: unknown detection 'no_such'"),
    ({"repeat_interval_minutes": 0}, "TeamsAdapter: repeat_interval_minutes"),
    ({"alert_window_minutes": 40, "heartbeat_missing_minutes": 45},  # checked with the other timings
     "TeamsAdapter: heartbeat_missing_minutes: must not exceed alert_window_minutes (45 > 40)"),
    ({"region": ""}, "TeamsAdapter: region must be a non-empty string"),
    ({"runtime": "lambda"}, "TeamsAdapter: runtime: must be one of kubernetes, docker (got 'lambda')"),
    ({"oidc_provider_arn": ""}, "TeamsAdapter: runtime kubernetes needs oidc_provider_arn (IRSA)"),
    ({"image": "registry.example.com/adapter:latest"}, "TeamsAdapter: image: must be pinned by digest"),
])
def test_bad_arguments_are_one_line_naming_the_argument_before_anything_is_registered(overrides, message):
    caught = []

    def program():
        try:
            TeamsAdapter("sec", adapter_args(**overrides))
        except ComponentArgsError as exc:
            caught.append(exc)

    rec = run_program({}, program=program, project="consumer", stack="prod")
    assert [r.type for r in rec.resources if r.type != "pulumi:pulumi:Stack"] == []
    (error,) = caught
    text = str(error)
    assert text.startswith(message) and "\n" not in text and isinstance(error, ConfigError), text
    assert "trailwatch:" not in text and not re.search(r"\b[a-z]+[A-Z]\w*\b", text.split(": ", 1)[1]), text


def test_without_an_image_and_without_build_files_it_is_one_line_naming_image(tmp_path, monkeypatch):
    """An installation that lacks the Dockerfile (the build files are package data) can only run a prebuilt image:
    one line at preview saying so, and nothing registered."""
    monkeypatch.setattr(teams_adapter, "source_path", lambda entry: tmp_path / entry)
    with pytest.raises(ComponentArgsError) as caught:
        run_adapter(adapter_args(image=""))
    text = str(caught.value)
    assert text.startswith("TeamsAdapter: image: is required") and "docker/adapter/Dockerfile" in text
    assert "repo@sha256:" in text and "\n" not in text
    rec = run_adapter(adapter_args(image=ADAPTER_DIGEST))  # by digest it needs no build files
    assert rec.of_type("docker-build:index:Image") == [] and rec.of_type("trailwatch:index:TeamsAdapter")
