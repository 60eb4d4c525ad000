"""Resource policies (who may use a bucket, key, topic, queue, secret or log destination): no one outside the
stack's account, and service principals only on behalf of this stack's resources.

The stack's account is read from the document itself: the program writes it (from getCallerIdentity) into the
conditions and resources of every document, so an AWS principal whose account appears nowhere else in the
document, and is not listed in ``trustedAccounts``, belongs to another account.
"""

from __future__ import annotations

from typing import Iterator

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, Severity

from ._common import (
    UNKNOWN, allow_statements, home_accounts, label, principal_account, principal_values, scoping_conditions,
)
from .aws import RESOURCE_POLICY_PROPS, TRUSTED_ACCOUNTS_SCHEMA, mandatory_policy, resource_documents

#: Conditions AWS documents for CloudWatch Logs' use of a KMS key (the log group's ARN in the context).
LOGS_CONTEXT_KEYS = frozenset({"kms:encryptioncontext:aws:logs:arn"})


def _principals(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    trusted_extra = set((args.get_config() or {}).get("trustedAccounts", []))
    for where, doc in resource_documents(args.resource_type, props):
        if doc is UNKNOWN or doc is None:
            continue
        trusted = home_accounts(doc) | trusted_extra
        for i, st in enumerate(allow_statements(doc)):
            at = f"{where} {label(st, i)}"
            if "NotPrincipal" in st:
                yield f"{at}: Allow with NotPrincipal grants every principal not listed; name the principals."
                continue
            principals = principal_values(st, "AWS")
            if "*" in principals:
                scoping, weak = scoping_conditions(st)
                if not set(scoping) - set(weak):
                    yield (f"{at}: allows Principal '*' with no condition limiting it to one account "
                           f"({', '.join(weak) + ' matches any account' if weak else 'none given'}); allowed: "
                           f"'*' only with aws:SourceAccount / aws:PrincipalAccount / kms:CallerAccount / "
                           f"aws:PrincipalOrgID naming this account or organisation.")
            for principal in principals:
                if principal == "*":
                    continue
                account = principal_account(principal)
                if account not in trusted:
                    yield (f"{at}: allows {principal}, outside this stack's account; allowed: principals of "
                           f"the account the resource is in, or accounts listed in trustedAccounts.")


def _service_conditions(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    for where, doc in resource_documents(args.resource_type, props):
        if doc is UNKNOWN or doc is None:
            continue
        for i, st in enumerate(allow_statements(doc)):
            services = principal_values(st, "Service")
            if not services:
                continue
            logs = all(s.startswith("logs.") for s in services)
            scoping, weak = scoping_conditions(st, LOGS_CONTEXT_KEYS if logs else frozenset())
            if set(scoping) - set(weak):
                continue
            detail = (f"its {', '.join(weak)} condition matches any account" if weak
                      else "it has no aws:SourceArn / aws:SourceAccount condition")
            allowed = ("aws:SourceArn / aws:SourceAccount, or kms:EncryptionContext:aws:logs:arn naming this log "
                       "group" if logs else "aws:SourceArn naming this stack's resource or aws:SourceAccount "
                       "naming this account")
            yield (f"{where} {label(st, i)}: service principal {', '.join(services)}: {detail}, so the service "
                   f"can be made to use this resource for another account (confused deputy). Allowed: {allowed}.")


_TYPES = tuple(RESOURCE_POLICY_PROPS)

POLICIES = [
    mandatory_policy("resource-policy-no-public-or-foreign-principal",
                     "Bucket, KMS key, SNS/SQS, secret and log resource policies allow no '*' principal unless a "
                     "condition limits it to one account, and no principal of another account (unless trusted).",
                     _TYPES, _principals, Severity.CRITICAL,
                     config_schema=PolicyConfigSchema(properties={"trustedAccounts": TRUSTED_ACCOUNTS_SCHEMA})),
    mandatory_policy("resource-policy-service-source-condition",
                     "Service principals in resource policies (CloudTrail, CloudWatch Logs, CloudWatch, ...) are bound to "
                     "this stack by aws:SourceArn / aws:SourceAccount (for CloudWatch Logs on a key: the log group's "
                     "encryption context) with a value naming one account.",
                     _TYPES, _service_conditions, Severity.HIGH),
]
