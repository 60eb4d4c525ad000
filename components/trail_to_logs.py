"""TrailToLogs: a hardened multi-region CloudTrail delivering to an encrypted CloudWatch log group.

With ``create_trail=False`` it creates nothing and passes the named log group on (bring-your-own trail).
"""

import json
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from trailwatch import iam_documents as docs

from .args import ComponentArgsError, args_of, checked_settings
from .aws_context import AwsContext


_ALIAS_UNSAFE = re.compile(r"[^a-zA-Z0-9/_-]")
#: The TrailToLogsArgs fields checked as stack config keys, and those keys: a log group that exists (create_trail
#: false) is the stack key existingLogGroupName.
TRAIL_KEYS = {"log_group_name": "existingLogGroupName", "log_retention_days": "logRetentionDays",
              "multi_region": "multiRegionTrail", "organization_trail": "organizationTrail",
              "bucket_expiration_days": "bucketExpirationDays", "bucket_transition_days": "bucketTransitionDays"}


def kms_alias_name(trail_name: str) -> str:
    """``alias/<trail name>`` with every character KMS refuses in alias names (``[a-zA-Z0-9/_-]`` only) as ``-``.

    Trail names (from the stack name) may contain periods, which CloudTrail accepts and KMS rejects.
    """
    return "alias/" + _ALIAS_UNSAFE.sub("-", trail_name)


@dataclass
class TrailToLogsArgs:
    """Plain values with the defaults and checks of the stack config keys of the same meaning; None (or, through
    the provider, leaving a property out) means the default."""
    log_group_name: str
    """The CloudWatch log group the trail delivers to: created here, or (createTrail false) one that exists."""
    trail_name: Optional[str] = None
    """Name of the trail to create; required unless createTrail is false."""
    create_trail: Optional[bool] = True
    """Create the trail, its bucket, key, log group and delivery role; false: bring your own trail."""
    log_retention_days: Optional[int] = 90
    """Retention of the created log group in days (AWS's allowed values only; 0 = never expire)."""
    multi_region: Optional[bool] = True
    """Record API calls in every region, not just the home region."""
    organization_trail: Optional[bool] = False
    """Create an organization trail (run from the management account)."""
    bucket_expiration_days: Optional[int] = 365
    """Delete trail objects in S3 after this many days (0 = keep forever)."""
    bucket_transition_days: Optional[int] = 90
    """Move trail objects to S3 Glacier after this many days (0 = never)."""
    event_selectors: Optional[Sequence[Mapping[str, Any]]] = None
    """CloudTrail event selectors, as pulumi-aws takes them (default: all management events)."""

    def resolved(self) -> "TrailToLogsArgs":
        """A copy with every None as its default and each value checked as stack config checks it; raises
        ComponentArgsError (one line) on a value stack config would refuse."""
        if not isinstance(self.log_group_name, str) or not self.log_group_name:
            raise ComponentArgsError("TrailToLogs: log_group_name must be a non-empty string")
        create = self.create_trail is not False
        if create and (not isinstance(self.trail_name, str) or not self.trail_name):
            raise ComponentArgsError("TrailToLogs: trail_name is required when create_trail is true")
        if not create and self.organization_trail:
            raise ComponentArgsError("TrailToLogs: organization_trail: cannot be set with create_trail false "
                                     "(no trail is created)")
        s = checked_settings("TrailToLogs", TRAIL_KEYS, {
            "log_group_name": "" if create else self.log_group_name,
            **{name: getattr(self, name) for name in TRAIL_KEYS if name != "log_group_name"}})
        return replace(self, create_trail=create, log_retention_days=s.log_retention_days,
                       multi_region=s.multi_region_trail, organization_trail=s.organization_trail,
                       bucket_expiration_days=s.bucket_expiration_days, bucket_transition_days=s.bucket_transition_days)


class TrailToLogs(pulumi.ComponentResource):
    """A hardened multi-region CloudTrail delivering to a KMS-encrypted CloudWatch log group, or (createTrail
    false) the log group an existing trail delivers to."""
    trail_arn: pulumi.Output[Optional[str]]
    """ARN of the created trail (none when bringing your own)."""
    bucket_name: pulumi.Output[Optional[str]]
    """The trail's S3 bucket (none when bringing your own)."""
    log_group_name: pulumi.Output[str]
    """The log group the trail delivers to: what MetricFilterSet reads."""
    log_group_arn: pulumi.Output[str]
    """ARN of that log group."""
    kms_key_arn: pulumi.Output[Optional[str]]
    """The key encrypting trail logs, bucket and log group (none when bringing your own)."""

    def __init__(self, name: str, args: TrailToLogsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = args_of(TrailToLogsArgs, args, "TrailToLogs").resolved()
        super().__init__("trailwatch:index:TrailToLogs", name, None, opts)
        ctx = AwsContext.lookup(self)
        if not args.create_trail:
            self.trail_arn = pulumi.Output.from_input(None)
            self.bucket_name = pulumi.Output.from_input(None)
            self.kms_key_arn = pulumi.Output.from_input(None)
            self.log_group_name = pulumi.Output.from_input(args.log_group_name)
            self.log_group_arn = pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id).apply(
                lambda v: docs.log_group_arn(v[0], v[1], v[2], args.log_group_name))
        else:
            self._create(name, args, ctx)
        self.register_outputs({
            "trailArn": self.trail_arn, "bucketName": self.bucket_name, "logGroupName": self.log_group_name,
            "logGroupArn": self.log_group_arn, "kmsKeyArn": self.kms_key_arn,
        })

    def _create(self, name: str, args: TrailToLogsArgs, ctx: AwsContext) -> None:
        child = pulumi.ResourceOptions(parent=self)
        log_group_name = args.log_group_name
        trail_arn = pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id).apply(
            lambda v: docs.trail_arn(v[0], v[1], v[2], args.trail_name))

        key = aws.kms.Key(
            f"{name}-key", description=f"Encrypts CloudTrail logs of {args.trail_name}", enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id, trail_arn, ctx.dns_suffix).apply(
                lambda v: json.dumps(docs.trail_key_policy(v[0], v[1], v[2], v[3], log_group_name, v[4]))),
            opts=child)
        aws.kms.Alias(f"{name}-key-alias", name=kms_alias_name(args.trail_name), target_key_id=key.key_id, opts=child)

        bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=False, opts=child)
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-bucket-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-sse", bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                                 "kms_master_key_id": key.arn},
                    "bucket_key_enabled": True}],
            opts=child)
        aws.s3.BucketVersioning(f"{name}-bucket-versioning", bucket=bucket.id,
                                versioning_configuration={"status": "Enabled"}, opts=child)
        self._lifecycle(name, args, bucket, child)

        org_id = (aws.organizations.get_organization_output(opts=pulumi.InvokeOptions(parent=self)).id
                  if args.organization_trail else pulumi.Output.from_input(None))
        bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy", bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, trail_arn, ctx.account_id, org_id).apply(
                lambda v: json.dumps(docs.cloudtrail_bucket_policy(v[0], v[1], v[2], v[3]))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_block]))

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=log_group_name, retention_in_days=args.log_retention_days, kms_key_id=key.arn,
            opts=child)
        role = aws.iam.Role(
            f"{name}-delivery-role", description=f"CloudTrail {args.trail_name} delivers to {log_group_name}",
            assume_role_policy=pulumi.Output.all(trail_arn, ctx.account_id).apply(
                lambda v: json.dumps(docs.cloudtrail_assume_role_policy(v[0], v[1]))),
            opts=child)
        role_policy = aws.iam.RolePolicy(
            f"{name}-delivery-policy", role=role.id,
            policy=pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id).apply(
                lambda v: json.dumps(docs.log_delivery_policy(v[0], v[1], v[2], log_group_name))),
            opts=child)

        trail = aws.cloudtrail.Trail(
            f"{name}-trail", name=args.trail_name, s3_bucket_name=bucket.id,
            is_multi_region_trail=args.multi_region, include_global_service_events=True,
            enable_log_file_validation=True, is_organization_trail=args.organization_trail, kms_key_id=key.arn,
            cloud_watch_logs_group_arn=log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn, event_selectors=args.event_selectors,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bucket_policy, role_policy]))

        self.trail_arn = trail.arn
        self.bucket_name = bucket.id
        self.kms_key_arn = key.arn
        self.log_group_name = log_group.name
        self.log_group_arn = log_group.arn

    @staticmethod
    def _lifecycle(name: str, args: TrailToLogsArgs, bucket: aws.s3.Bucket, child: pulumi.ResourceOptions) -> None:
        rule: dict = {"id": "trail-logs", "status": "Enabled", "filter": {"prefix": "AWSLogs/"}}
        if args.bucket_transition_days:
            rule["transitions"] = [{"days": args.bucket_transition_days, "storage_class": "GLACIER"}]
        if args.bucket_expiration_days:
            rule["expiration"] = {"days": args.bucket_expiration_days}
            rule["noncurrent_version_expiration"] = {"noncurrent_days": 30}
        if "transitions" in rule or "expiration" in rule:
            aws.s3.BucketLifecycleConfiguration(f"{name}-bucket-lifecycle", bucket=bucket.id, rules=[rule], opts=child)
