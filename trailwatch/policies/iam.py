"""IAM policies beyond ``Action: '*'``: service-wide wildcards on every resource, and managed admin policies.

``iam:*`` on ``*`` is account takeover, ``kms:*`` on ``*`` reads every encrypted log, ``s3:*`` deletes the trail
bucket, ``sts:*`` assumes any role that trusts the account: a wildcard over a whole service is as bad as ``*``
for the services the trail protects, and no role of this stack needs one.
"""

from __future__ import annotations

from typing import Any, Iterator

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, Severity

from ._common import UNKNOWN, actions, allow_statements, as_list, label
from .aws import ATTACHMENTS, IAM_DOCUMENT_TYPES, ROLE, identity_documents, mandatory_policy

DEFAULT_DENIED_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "job-function/SystemAdministrator",
                           "AWSCloudTrail_FullAccess", "CloudWatchLogsFullAccess", "AWSKeyManagementServicePowerUser",
                           "AmazonS3FullAccess")


def is_service_wildcard(action: str) -> bool:
    """``svc:*`` (every action of one service), in any case; ``*`` itself is iam-no-wildcard-action's."""
    service, colon, verb = action.strip().partition(":")
    return bool(colon and service and service != "*" and verb.strip("*?") == "")


def _service_wildcards(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    for where, doc in identity_documents(args.resource_type, props):
        if doc is UNKNOWN or doc is None:
            continue
        for i, st in enumerate(allow_statements(doc)):
            wild = [a for a in actions(st) if is_service_wildcard(a)]
            if not wild:
                continue
            resources = [r for r in as_list(st.get("Resource")) if isinstance(r, str)]
            if "NotResource" in st or "*" in resources:
                yield (f"{where} {label(st, i)}: allows {', '.join(wild)} on every resource ('*'); allowed: the "
                       f"named actions a role needs, on the ARNs it needs them on.")


def _denied(arn: Any, denied: tuple[str, ...]) -> str | None:
    if not isinstance(arn, str) or ":policy/" not in arn:
        return None
    name = arn.split(":policy/", 1)[1]
    return name if name in denied or name.split("/")[-1] in denied else None


def _admin_policies(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    denied = tuple((args.get_config() or {}).get("deniedPolicies", DEFAULT_DENIED_POLICIES))
    arns = as_list(props.get("managedPolicyArns")) if args.resource_type == ROLE else [props.get("policyArn")]
    where = "managedPolicyArns" if args.resource_type == ROLE else "policyArn"
    for arn in arns:
        name = _denied(arn, denied)
        if name:
            yield (f"{where} attaches the managed policy {name} ({arn}); allowed: a policy scoped to what this "
                   f"principal does (denied here: {', '.join(denied)}).")


POLICIES = [
    mandatory_policy("iam-no-service-wildcard",
                     "No IAM identity policy allows a whole service (iam:*, kms:*, s3:*, sts:*, ...) on Resource '*'.",
                     IAM_DOCUMENT_TYPES, _service_wildcards, Severity.CRITICAL),
    mandatory_policy("iam-no-admin-managed-policy",
                     "No role, user or group of the stack has an administrator-class AWS managed policy attached "
                     "(AdministratorAccess, PowerUserAccess, IAMFullAccess, ...), whatever component it belongs to.",
                     ATTACHMENTS + (ROLE,), _admin_policies, Severity.CRITICAL,
                     config_schema=PolicyConfigSchema(properties={"deniedPolicies": {
                         "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_DENIED_POLICIES),
                         "description": "Managed policy names (after ':policy/', or their last path segment) that "
                                        "may not be attached."}})),
]
