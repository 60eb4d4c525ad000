"""AWS policies: CloudTrail, CloudWatch Logs, S3, KMS and IAM.

Resource policies look at one resource's inputs; the S3 and exporter policies are stack policies because they
must relate resources to each other, which they do through property dependencies (a BucketPolicy's ``bucket``
depends on the Bucket; an attachment's ``policyArn`` depends on the Policy), never through ids or names: ids are
unknown during preview, and names can be anything.

A value only known after apply (``UNKNOWN``) counts as set but uncheckable during preview; ``pulumi up`` runs
the policies again with the final values.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from pulumi_policy import (
    EnforcementLevel, PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
    Severity, StackValidationArgs, StackValidationPolicy,
)

from ..contract import EXPORTER_COMPONENT_TYPE
from ..settings import RETENTION_DAYS
from ._common import (
    UNKNOWN, actions, allow_statements, as_list, condition_keys, dig, document, home_accounts, in_component, label,
    plain, principal_account, principal_values, resource_policy, scoping_conditions, stack_flag, statements,
)

MANDATORY = EnforcementLevel.MANDATORY

TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_COMPANIONS = {
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "public_access",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "sse",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": "sse",
    "aws:s3/bucketVersioning:BucketVersioning": "versioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "versioning",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
}

# Identity policies (what a principal may do) and where their documents are.
IDENTITY_POLICY_PROPS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
# Resource policies (who may use a resource).
RESOURCE_POLICY_PROPS = {
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
}
ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)

DEFAULT_MINIMUM_RETENTION_DAYS = 90
DEFAULT_EXPORTER_ACTIONS = ("cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics")
DEFAULT_EXEMPT_SERVICES = ("ec2.amazonaws.com",)
TRUSTED_ACCOUNTS_SCHEMA = {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{12}$"}, "default": [],
                           "description": "Other AWS accounts that may be trusted (the stack's own account always "
                                          "is: the one its documents' conditions and resources name)."}
_LOGS_READ_VERBS = ("describe", "get", "list", "filter", "startquery", "stopquery", "testmetricfilter",
                    "startlivetail", "stoplivetail")


def _is_set(value: Any) -> bool:
    return value is UNKNOWN or (value is not None and value != "")


def identity_documents(resource_type: str, props: Mapping) -> Iterator[tuple[str, Any]]:
    """``(where, document)`` for every identity-policy document a resource carries (JSON parsed)."""
    key = IDENTITY_POLICY_PROPS.get(resource_type)
    if key:
        yield key, document(props.get(key))
    if resource_type == ROLE:
        inline = props.get("inlinePolicies")
        if inline is not UNKNOWN:
            for i, item in enumerate(as_list(inline)):
                if isinstance(item, Mapping):
                    yield f"inlinePolicies[{i}]", document(item.get("policy"))


def resource_documents(resource_type: str, props: Mapping) -> Iterator[tuple[str, Any]]:
    key = RESOURCE_POLICY_PROPS.get(resource_type)
    if key:
        yield key, document(props.get(key))


# --- CloudTrail --------------------------------------------------------------------------------------------

def _trail_multi_region(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    value = props.get("isMultiRegionTrail")
    if value is not UNKNOWN and value is not True:
        yield ("isMultiRegionTrail is not true: API calls in every other region go unrecorded, so attackers "
               "working in an unused region are invisible. Set trailwatch:multiRegionTrail: true.")


def _trail_log_file_validation(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    value = props.get("enableLogFileValidation")
    if value is not UNKNOWN and value is not True:
        yield ("enableLogFileValidation is not true: without digest files nobody can prove the delivered logs "
               "were not altered or deleted.")


def _trail_kms(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    if not _is_set(props.get("kmsKeyId")):
        yield ("kmsKeyId is not set: trail logs in S3 are only encrypted with S3-managed keys, so anyone with "
               "s3:GetObject can read them. Encrypt them with a customer-managed KMS key.")


def _trail_cloudwatch_logs(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    arn = props.get("cloudWatchLogsGroupArn")
    if not _is_set(arn):
        yield ("cloudWatchLogsGroupArn is not set: events never reach CloudWatch Logs, so no metric filter and "
               "no alert can see them.")
    elif arn is not UNKNOWN and not str(arn).endswith(":*"):
        yield (f"cloudWatchLogsGroupArn does not end with ':*' (the log-stream wildcard CloudTrail requires); "
               f"the trail would be rejected or deliver nothing. Use '<log group ARN>:*'.")
    if not _is_set(props.get("cloudWatchLogsRoleArn")):
        yield "cloudWatchLogsRoleArn is not set: CloudTrail has no role to deliver events to CloudWatch Logs."


# --- CloudWatch Logs ---------------------------------------------------------------------------------------

def _log_group_retention(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    minimum = int((args.get_config() or {}).get("minimumRetentionDays", DEFAULT_MINIMUM_RETENTION_DAYS))
    days = props.get("retentionInDays")
    if days is UNKNOWN or days is None or days == 0:
        return  # unset or 0: never expires
    if isinstance(days, bool) or not isinstance(days, (int, float)):
        yield f"retentionInDays is {days!r}, not a number of days."
    elif days not in RETENTION_DAYS:
        yield (f"retentionInDays is {days:g}, which CloudWatch Logs does not accept (allowed: "
               f"{', '.join(str(d) for d in RETENTION_DAYS if d)}).")
    elif days < minimum:
        yield (f"retentionInDays is {days:g}, below the required minimum of {minimum} days: evidence of an "
               f"incident would be deleted before most investigations start. Set trailwatch:logRetentionDays "
               f"to {min(d for d in RETENTION_DAYS if d >= minimum)} or more.")


def _log_group_kms(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    if not _is_set(props.get("kmsKeyId")):
        yield ("kmsKeyId is not set: the log group is encrypted with a CloudWatch-owned key; use a customer-"
               "managed KMS key so access to the logs can be controlled and audited.")


# --- KMS -----------------------------------------------------------------------------------------------------

def _kms_rotation(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    spec = props.get("customerMasterKeySpec") or props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec is not UNKNOWN and spec != "SYMMETRIC_DEFAULT":
        return  # asymmetric and HMAC keys cannot rotate automatically
    value = props.get("enableKeyRotation")
    if value is not UNKNOWN and value is not True:
        yield "enableKeyRotation is not true: the key material never rotates. Set enable_key_rotation=True."


# --- IAM -----------------------------------------------------------------------------------------------------

def _wildcard_action(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    docs = list(identity_documents(args.resource_type, props)) + list(resource_documents(args.resource_type, props))
    for where, doc in docs:
        if doc is UNKNOWN:
            continue
        for i, st in enumerate(statements(doc)):
            if st.get("Effect", "Allow") != "Allow":
                continue
            if "NotAction" in st:
                yield f"{where} {label(st, i)}: Allow with NotAction grants every action not listed."
            if any(a.strip() in ("*", "*:*") for a in actions(st)):
                yield f"{where} {label(st, i)}: allows Action '*' (every action of every service)."


def is_logs_write(action: str) -> bool:
    """True for a ``logs:`` action (or pattern) that can write, delete or change log data or configuration."""
    a = action.strip().lower()
    if a in ("*", "*:*"):
        return True
    if not a.startswith("logs:"):
        return False
    verb = a[len("logs:"):]
    if "*" in verb or "?" in verb:
        prefix = verb.split("*")[0].split("?")[0]
        return not prefix or not prefix.startswith(_LOGS_READ_VERBS)
    return not verb.startswith(_LOGS_READ_VERBS)


def is_broad_logs_resource(resource: str) -> bool:
    """``*``, any account (``arn:aws:logs:*:*:*``), or every log group of an account."""
    r = resource.strip()
    if r == "*":
        return True
    parts = r.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("logs", "*"):
        return False
    account, rest = parts[4], parts[5]
    return "*" in account or rest in ("*", "log-group:*", "log-group:*:*", "log-group:*:log-stream:*")


def _logs_write_wildcard_resource(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    for where, doc in identity_documents(args.resource_type, props):
        if doc is UNKNOWN:
            continue
        for i, st in enumerate(allow_statements(doc)):
            writes = [a for a in actions(st) if is_logs_write(a)]
            if not writes:
                continue
            if "NotResource" in st:
                yield f"{where} {label(st, i)}: {', '.join(writes)} with NotResource applies to every log group."
                continue
            resources = [r for r in as_list(st.get("Resource")) if isinstance(r, str)]
            broad = [r for r in resources if is_broad_logs_resource(r)]
            if broad:
                yield (f"{where} {label(st, i)}: {', '.join(writes)} on {', '.join(broad)}: write access to every "
                       f"log group (including the CloudTrail one) lets its holder forge or bury evidence. Scope it "
                       f"to one log group ARN.")


def _access_keys(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    if (args.get_config() or {}).get("allowAccessKeys"):
        return
    if stack_flag("exporterAccessKey") and in_component(args.urn, EXPORTER_COMPONENT_TYPE):
        return
    yield ("creates a long-lived IAM access key, which the stack does not enable: use the instance role or IRSA, "
           "or set trailwatch:exporterAccessKey: true to accept a key for the exporter.")


def _single_subject(op: str, value: Any) -> str | None:
    values = as_list(value)
    if op != "StringEquals" or len(values) != 1 or not isinstance(values[0], str):
        return None
    return None if any(ch in values[0] for ch in "*?") else values[0]


def _trust_policy(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    doc = document(props.get("assumeRolePolicy"))
    if doc is UNKNOWN or doc is None:
        return
    config = args.get_config() or {}
    exempt = set(config.get("exemptServices", DEFAULT_EXEMPT_SERVICES))
    trusted = home_accounts(doc) | set(config.get("trustedAccounts", []))
    for i, st in enumerate(allow_statements(doc)):
        where = f"assumeRolePolicy {label(st, i)}"
        keys = condition_keys(st)
        aws_principals = principal_values(st, "AWS")
        if "*" in aws_principals:
            yield f"{where}: trusts every AWS principal ('*'); allowed: principals of this account."
            continue
        if "NotPrincipal" in st:
            yield f"{where}: Allow with NotPrincipal trusts every principal not listed."
            continue
        for principal in aws_principals:
            account = principal_account(principal)
            if account not in trusted:
                yield (f"{where}: trusts {principal}, outside this stack's account; allowed: principals of the "
                       f"account the role is in, or accounts listed in trustedAccounts.")
        services = [s for s in principal_values(st, "Service") if s not in exempt]
        scoping, weak = scoping_conditions(st)
        if services and not set(scoping) - set(weak):
            detail = (f"its {', '.join(weak)} condition matches any account" if weak
                      else "it has no aws:SourceArn or aws:SourceAccount condition")
            yield (f"{where}: service principal {', '.join(services)}: {detail}; the service could be made to "
                   f"assume this role on behalf of another account (confused deputy). Allowed: aws:SourceArn / "
                   f"aws:SourceAccount naming this stack's trail or account.")
        for provider in principal_values(st, "Federated"):
            yield from _web_identity(where, provider, keys)


def _web_identity(where: str, provider: str, keys: Mapping[str, tuple[str, Any]]) -> Iterator[str]:
    """IRSA: one service account (``:sub`` StringEquals, no wildcard) and the STS audience (``:aud``)."""
    subjects = [(k, v) for k, v in keys.items() if k.endswith(":sub")]
    subject = _single_subject(*subjects[0][1]) if len(subjects) == 1 else None
    eks = ":oidc-provider/" in provider
    if subject is None or (eks and not (subject.startswith("system:serviceaccount:") and subject.count(":") == 3)):
        yield (f"{where}: web-identity trust for {provider} is not pinned to one subject; require "
               f"StringEquals '<issuer>:sub' = 'system:serviceaccount:<namespace>:<name>' (one service "
               f"account, no wildcards).")
    audiences = [v for k, v in keys.items() if k.endswith(":aud")]
    if eks and not (len(audiences) == 1 and audiences[0][0] == "StringEquals"
                    and as_list(audiences[0][1]) == ["sts.amazonaws.com"]):
        yield (f"{where}: web-identity trust for {provider} does not require StringEquals '<issuer>:aud' = "
               f"'sts.amazonaws.com': a token minted for any other audience of the cluster could assume the role. "
               f"Allowed: exactly that audience condition.")


def _exporter_read_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    allowed = {a.lower() for a in (args.get_config() or {}).get("allowedActions", DEFAULT_EXPORTER_ACTIONS)}
    for res in args.resources:
        if not in_component(res.urn, EXPORTER_COMPONENT_TYPE):
            continue
        props = plain(res.props)
        for where, doc in identity_documents(res.resource_type, props):
            if doc is UNKNOWN or doc is None:
                continue
            for i, st in enumerate(allow_statements(doc)):
                if "NotAction" in st:
                    report_violation(f"{where} {label(st, i)}: NotAction grants more than reading CloudWatch "
                                     f"metrics.", res.urn)
                extra = [a for a in actions(st) if a.strip().lower() not in allowed]
                if extra:
                    report_violation(
                        f"{where} {label(st, i)}: the exporter may only call {', '.join(sorted(allowed))}; this "
                        f"also grants {', '.join(extra)}.", res.urn)
        if res.resource_type in ATTACHMENTS:
            deps = res.property_dependencies.get("policyArn", [])
            if any(d.resource_type == "aws:iam/policy:Policy" and in_component(d.urn, EXPORTER_COMPONENT_TYPE)
                   for d in deps):
                continue
            arn = props.get("policyArn")
            shown = arn if isinstance(arn, str) else "a policy"
            report_violation(f"attaches {shown}, which is not the exporter's own read-only CloudWatch policy: "
                             f"its permissions cannot be checked.", res.urn)
        if res.resource_type == ROLE:
            managed = props.get("managedPolicyArns")
            if managed is UNKNOWN or as_list(managed):
                report_violation("managedPolicyArns attaches policies other than the exporter's own read-only "
                                 "CloudWatch policy.", res.urn)


# --- S3 (stack policies: bucket + its configuration resources) --------------------------------------------

def bucket_companions(resources: list) -> tuple[dict, dict]:
    """Buckets by URN, and for each the configuration resources whose ``bucket`` input depends on it."""
    buckets = {r.urn: r for r in resources if r.resource_type in BUCKET_TYPES}
    found: dict[str, dict[str, list]] = {urn: {} for urn in buckets}
    for res in resources:
        kind = BUCKET_COMPANIONS.get(res.resource_type)
        if not kind:
            continue
        for dep in res.property_dependencies.get("bucket", []):
            if dep.urn in found:
                found[dep.urn].setdefault(kind, []).append(res)
    return buckets, found


def _bucket_check(kind: str, ok: Any, missing: str, weak: str):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        config = args.get_config() or {}
        buckets, found = bucket_companions(args.resources)
        for urn, bucket in buckets.items():
            companions = found[urn].get(kind, [])
            verdicts = [ok(plain(c.props), config) for c in companions]
            inline = ok(plain(bucket.props), config, inline=True)
            if inline is not False or any(v is not False for v in verdicts):
                continue  # compliant (True) or not checkable during preview (None)
            report_violation(weak if companions else missing, urn)
    return validate


def _public_access_ok(props: dict, config: Mapping, inline: bool = False) -> bool | None:
    if inline:
        return False
    flags = [props.get(k) for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                    "restrictPublicBuckets")]
    if any(f is UNKNOWN for f in flags):
        return None
    return all(f is True for f in flags)


def _sse_ok(props: dict, config: Mapping, inline: bool = False) -> bool | None:
    need_key = config.get("requireCustomerManagedKey", True)
    if inline:
        rules = [dig(props, "serverSideEncryptionConfiguration", "rule")]
    else:
        rules = as_list(props.get("rules"))
    for rule in rules:
        default = dig(rule, "applyServerSideEncryptionByDefault")
        if default is UNKNOWN:
            return None
        algorithm = dig(default, "sseAlgorithm")
        key = dig(default, "kmsMasterKeyId")
        if algorithm is UNKNOWN:
            return None
        if algorithm in ("aws:kms", "aws:kms:dsse") and (not need_key or _is_set(key)):
            return True
    return False


def _versioning_ok(props: dict, config: Mapping, inline: bool = False) -> bool | None:
    value = dig(props, "versioning", "enabled") if inline else dig(props, "versioningConfiguration", "status")
    if value is UNKNOWN:
        return None
    return value is True or value == "Enabled"


def denies_insecure_transport(doc: Any) -> bool:
    for st in statements(doc):
        if st.get("Effect") != "Deny":
            continue
        principal = st.get("Principal")
        if not (principal == "*" or (isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS")))):
            continue
        if not any(a in ("*", "s3:*") for a in actions(st)):
            continue
        condition = condition_keys(st).get("aws:securetransport")
        if condition and condition[0] == "Bool" and str(as_list(condition[1])[0]).lower() == "false":
            return True
    return False


def _tls_ok(props: dict, config: Mapping, inline: bool = False) -> bool | None:
    doc = document(props.get("policy"))
    if doc is UNKNOWN:
        return None
    return doc is not None and denies_insecure_transport(doc)


# --- the policies --------------------------------------------------------------------------------------------

def mandatory_policy(name: str, description: str, types: tuple[str, ...], check, severity: Severity,
                     config_schema: PolicyConfigSchema | None = None, remediation: str | None = None
                     ) -> ResourceValidationPolicy:
    """A mandatory resource policy running ``check`` (plain props -> messages) on resources of ``types``; every
    module of the pack declares its resource policies through this, so they share one shape."""
    return ResourceValidationPolicy(
        name=name, description=description, validate=resource_policy(name, types, check),
        enforcement_level=MANDATORY, config_schema=config_schema, severity=severity,
        remediation_steps=remediation)


IAM_DOCUMENT_TYPES = tuple(IDENTITY_POLICY_PROPS) + (ROLE,)

POLICIES = [
    mandatory_policy("cloudtrail-multi-region",
                     "CloudTrail trails record API calls in every region, not only the home region.",
                     (TRAIL,), _trail_multi_region, Severity.HIGH,
                     remediation="Set trailwatch:multiRegionTrail: true (is_multi_region_trail=True)."),
    mandatory_policy("cloudtrail-log-file-validation",
                     "CloudTrail trails write digest files so tampering with delivered logs can be detected.",
                     (TRAIL,), _trail_log_file_validation, Severity.HIGH),
    mandatory_policy("cloudtrail-kms-encrypted",
                     "CloudTrail trails encrypt their log files with a customer-managed KMS key.",
                     (TRAIL,), _trail_kms, Severity.HIGH),
    mandatory_policy("cloudtrail-delivers-to-cloudwatch-logs",
                     "CloudTrail trails deliver to a CloudWatch Logs group (ARN with the ':*' stream wildcard) through "
                     "a delivery role, so metric filters can see every event.",
                     (TRAIL,), _trail_cloudwatch_logs, Severity.CRITICAL),
    mandatory_policy("log-group-retention",
                     "CloudWatch log groups keep events for at least the configured minimum (default 90 days) and use "
                     "a retention AWS accepts; 0/unset (never expire) passes.",
                     (LOG_GROUP,), _log_group_retention, Severity.MEDIUM,
                     config_schema=PolicyConfigSchema(properties={"minimumRetentionDays": {
                         "type": "integer", "default": DEFAULT_MINIMUM_RETENTION_DAYS, "minimum": 1,
                         "description": "Shortest retention, in days, a log group may have."}}),
                     remediation="Set trailwatch:logRetentionDays to an allowed value >= the minimum."),
    mandatory_policy("log-group-kms-encrypted",
                     "CloudWatch log groups are encrypted with a customer-managed KMS key.",
                     (LOG_GROUP,), _log_group_kms, Severity.MEDIUM),
    mandatory_policy("kms-key-rotation",
                     "Symmetric customer-managed KMS keys rotate their key material automatically.",
                     (KMS_KEY,), _kms_rotation, Severity.MEDIUM),
    mandatory_policy("iam-no-wildcard-action",
                     "No IAM or resource policy allows Action '*' (or uses NotAction in an Allow).",
                     IAM_DOCUMENT_TYPES + tuple(RESOURCE_POLICY_PROPS), _wildcard_action, Severity.CRITICAL),
    mandatory_policy("iam-no-wildcard-logs-write",
                     "No IAM policy allows CloudWatch Logs write actions (logs:CreateLogStream, logs:PutLogEvents, "
                     "logs:*, ...) on '*' or on every log group of an account.",
                     IAM_DOCUMENT_TYPES, _logs_write_wildcard_resource, Severity.HIGH,
                     remediation="Scope the Resource to the one log group's ARN (…:log-group:<name>:log-stream:*)."),
    mandatory_policy("iam-no-access-keys",
                     "The stack creates no long-lived IAM access keys unless it explicitly enables one for the exporter "
                     "(trailwatch:exporterAccessKey: true).",
                     (ACCESS_KEY,), _access_keys, Severity.HIGH,
                     config_schema=PolicyConfigSchema(properties={"allowAccessKeys": {
                         "type": "boolean", "default": False,
                         "description": "Allow IAM access keys anywhere in the stack (organisation override)."}})),
    mandatory_policy("iam-trust-policy-scoped",
                     "Role trust policies are scoped: service principals carry an aws:SourceArn or aws:SourceAccount "
                     "condition with a value naming one account, web-identity (IRSA) trust names exactly one service "
                     "account and the sts.amazonaws.com audience, no principal of another account, nothing trusts '*'.",
                     (ROLE,), _trust_policy, Severity.HIGH,
                     config_schema=PolicyConfigSchema(properties={"exemptServices": {
                         "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_EXEMPT_SERVICES),
                         "description": "Service principals that need no confused-deputy condition (EC2 instance "
                                        "roles are gated by iam:PassRole when the instance profile is attached)."},
                         "trustedAccounts": TRUSTED_ACCOUNTS_SCHEMA})),
    StackValidationPolicy(
        name="exporter-read-only-cloudwatch",
        description="The CloudWatch exporter's IAM permissions are read-only CloudWatch metrics "
                    "(cloudwatch:GetMetricStatistics, GetMetricData, ListMetrics) and nothing else.",
        validate=_exporter_read_only, enforcement_level=MANDATORY, severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties={"allowedActions": {
            "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_EXPORTER_ACTIONS),
            "description": "Actions the exporter's policies may allow."}})),
    StackValidationPolicy(
        name="s3-public-access-blocked",
        description="Every S3 bucket the stack creates has a public access block with all four settings on.",
        validate=_bucket_check(
            "public_access", _public_access_ok,
            "bucket has no BucketPublicAccessBlock (linked through its `bucket` input).",
            "the bucket's public access block does not set blockPublicAcls, blockPublicPolicy, ignorePublicAcls "
            "and restrictPublicBuckets all to true."),
        enforcement_level=MANDATORY, severity=Severity.CRITICAL),
    StackValidationPolicy(
        name="s3-kms-encryption",
        description="Every S3 bucket the stack creates encrypts objects by default with SSE-KMS "
                    "(a customer-managed key unless configured otherwise).",
        validate=_bucket_check(
            "sse", _sse_ok,
            "bucket has no BucketServerSideEncryptionConfiguration (linked through its `bucket` input).",
            "the bucket's default encryption is not SSE-KMS with a customer-managed key (sseAlgorithm aws:kms "
            "and kmsMasterKeyId)."),
        enforcement_level=MANDATORY, severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties={"requireCustomerManagedKey": {
            "type": "boolean", "default": True,
            "description": "Require kmsMasterKeyId (a customer-managed key), not the aws/s3 managed key."}})),
    StackValidationPolicy(
        name="s3-versioning",
        description="Every S3 bucket the stack creates has versioning enabled, so overwritten or deleted log "
                    "objects can be recovered.",
        validate=_bucket_check(
            "versioning", _versioning_ok,
            "bucket has no BucketVersioning (linked through its `bucket` input).",
            "the bucket's versioning status is not Enabled."),
        enforcement_level=MANDATORY, severity=Severity.MEDIUM),
    StackValidationPolicy(
        name="s3-tls-only",
        description="Every S3 bucket the stack creates has a bucket policy denying requests without TLS "
                    "(Deny s3:* for '*' when aws:SecureTransport is false).",
        validate=_bucket_check(
            "policy", _tls_ok,
            "bucket has no BucketPolicy (linked through its `bucket` input), so plain-HTTP requests are allowed.",
            "the bucket policy has no statement denying s3:* to '*' when aws:SecureTransport is false."),
        enforcement_level=MANDATORY, severity=Severity.MEDIUM),
]
