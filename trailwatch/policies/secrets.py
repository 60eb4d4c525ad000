"""Secrets policies: the Teams / Power Automate webhook URL never sits in plain text.

What a policy can and cannot see: the engine unwraps Pulumi secrets before handing inputs (and, for stack
policies, outputs) to a policy, so a policy cannot tell a secret value from a plain one. These policies
therefore decide by *where* the URL is:

* allowed: a Kubernetes ``Secret``, an AWS Secrets Manager secret version, an SSM ``SecureString``
  parameter, and a Docker container's ``uploads`` / ``envs`` when the resource lists that property in
  ``additionalSecretOutputs`` (Docker has no secret store; the resource option is the one secrecy signal the
  engine passes to a policy, and it keeps the property encrypted in the state);
* everywhere else (a ConfigMap, a container's env ``value``, a CustomResource spec, an SNS subscription, any
  other input) it is a violation, and so is any stack output holding it.

The URL is recognised by host (``*.webhook.office.com``, ``*.logic.azure.com``,
``*.environment.api.powerplatform.com``, ...) and, literally, as the stack's own ``trailwatch:teamsWebhookUrl``
value, which a policy pack receives with the rest of the stack config. Messages name the property, never
the value.

Whether the *config* value is encrypted is not visible to a policy pack at all (it receives the decrypted
config without secret flags); ``pulumi preview`` enforces that through ``secret: true`` in Pulumi.yaml, and
``python -m trailwatch plan`` reports it as ``webhook-url-is-secret-config`` (see trailwatch.offline_policy).
"""

from __future__ import annotations

from typing import Iterator

from pulumi_policy import (
    EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity,
    StackValidationArgs, StackValidationPolicy,
)

from ._common import STACK_TYPE, plain, stack_config
from .webhooks import webhook_paths

K8S_SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DOCKER_CONTAINER = "docker:index/container:Container"
SECRET_STORES = (K8S_SECRET, "aws:secretsmanager/secretVersion:SecretVersion")
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
DOCKER_SECRET_CAPABLE = ("uploads", "envs")
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
URL_PROTOCOLS = ("http", "https")


def webhook_literals() -> tuple[str, ...]:
    """The stack's configured webhook URL (decrypted, as the pack receives config), to match it literally."""
    value = stack_config("teamsWebhookUrl")
    return (value,) if value else ()


def _advice(resource_type: str, path: str) -> str:
    if resource_type == CONFIG_MAP:
        return "ConfigMaps are plain text to anyone who can read them: put it in a Secret and mount that"
    if ".env[" in path or path.startswith("env"):
        return "use env[].valueFrom.secretKeyRef to a Secret instead of a literal value"
    if resource_type == DOCKER_CONTAINER:
        prop = path.split("[")[0].split(".")[0]
        if prop in DOCKER_SECRET_CAPABLE:
            return (f"pass it as a secret Output and list '{prop}' in the container's additional_secret_outputs "
                    f"so it stays encrypted in the state")
        return "deliver it through a secret upload (uploads + additional_secret_outputs), not here"
    return "keep it in a Kubernetes Secret or pass it only through secret inputs"


def _plaintext_webhook(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    rtype = args.resource_type
    if rtype in SECRET_STORES or rtype == STACK_TYPE:
        return
    props = plain(args.props)
    if rtype == SSM_PARAMETER and props.get("type") == "SecureString":
        return
    protected = set(args.opts.additional_secret_outputs or []) if rtype == DOCKER_CONTAINER else set()
    literals = webhook_literals()
    for key, value in props.items():
        if key in protected and key in DOCKER_SECRET_CAPABLE:
            continue
        for path in webhook_paths(value, literals, key, decode_base64=rtype == CONFIG_MAP):
            report_violation(f"{path} holds a Teams/Power Automate webhook URL in plain text (value not shown): "
                             f"{_advice(rtype, path)}.", None)


def _outputs(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    literals = webhook_literals()
    for res in args.resources:
        if res.resource_type != STACK_TYPE:
            continue
        outputs = plain(res.props)
        for key in outputs:
            for path in webhook_paths(outputs[key], literals, key):
                report_violation(
                    f"stack output {path} holds a Teams/Power Automate webhook URL (value not shown): outputs are "
                    f"printed, shared and read by other stacks; export a reference (a Secret name or a "
                    f"webhook_url_file path) instead.", res.urn)


def _subscription_endpoint(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SNS_SUBSCRIPTION:
        return
    props = plain(args.props)
    if props.get("protocol") not in URL_PROTOCOLS:
        return
    if "endpoint" not in set(args.opts.additional_secret_outputs or []):
        report_violation(f"endpoint ({props.get('protocol')} subscription; value not shown) is not in "
                         f"additionalSecretOutputs: a subscription URL often carries a credential (an API key or "
                         f"signature in its query) and would sit in plain text in the state. Allowed: the endpoint "
                         f"passed as a secret Output with additional_secret_outputs=['endpoint'].", None)


POLICIES = [
    ResourceValidationPolicy(
        name="sns-url-subscription-endpoint-secret",
        description="SNS http/https subscriptions keep their endpoint URL secret (additionalSecretOutputs "
                    "['endpoint']): such URLs carry credentials, e.g. trailwatch:alarmHttpsEndpoints.",
        validate=_subscription_endpoint, enforcement_level=EnforcementLevel.MANDATORY, severity=Severity.HIGH),
    ResourceValidationPolicy(
        name="no-plaintext-teams-webhook",
        description="A Microsoft Teams / Power Automate webhook URL (the whole URL is the credential) appears "
                    "only in a Kubernetes Secret, a secret store, or a Docker upload/env marked secret; never in "
                    "a ConfigMap, a container env value or any other resource input.",
        validate=_plaintext_webhook, enforcement_level=EnforcementLevel.MANDATORY, severity=Severity.CRITICAL,
        remediation_steps="Set the URL with `pulumi config set --secret trailwatch:teamsWebhookUrl`, keep it in "
                          "a Secret, and reference it (secretKeyRef, webhook_url_file)."),
    StackValidationPolicy(
        name="no-teams-webhook-in-outputs",
        description="No stack output contains a Microsoft Teams / Power Automate webhook URL, secret or not "
                    "(a policy cannot see secrecy, and outputs are shown and shared).",
        validate=_outputs, enforcement_level=EnforcementLevel.MANDATORY, severity=Severity.CRITICAL),
]
