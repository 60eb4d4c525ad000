"""IAM, KMS and S3 policy documents for the CloudTrail half of the pipeline, as plain data.

Each function takes already-resolved names/ARNs so it is testable without Pulumi; components apply them to
outputs. Everything is scoped to this trail, this bucket, this log group: the original guide's
``arn:aws:logs:*:*:*`` grant is what these replace.
"""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]


def trail_arn(partition: str, region: str, account: str, trail_name: str) -> str:
    return f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail_name}"


def log_group_arn(partition: str, region: str, account: str, log_group: str) -> str:
    return f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}"


def cloudtrail_bucket_policy(bucket_arn: str, trail: str, account: str, org_id: str | None = None) -> Document:
    """CloudTrail may read the ACL and write log objects for this trail only; requests without TLS are denied."""
    prefixes = [f"{bucket_arn}/AWSLogs/{account}/*"] + ([f"{bucket_arn}/AWSLogs/{org_id}/*"] if org_id else [])
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": principal, "Action": "s3:GetBucketAcl",
             "Resource": bucket_arn, "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": principal, "Action": "s3:PutObject",
             "Resource": prefixes,
             "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }


def trail_key_policy(partition: str, region: str, account: str, trail: str, log_group: str,
                     dns_suffix: str = "amazonaws.com") -> Document:
    """Account admins manage the key; CloudTrail encrypts for this trail; CloudWatch Logs for this log group.

    The CloudWatch Logs principal is regional and partition-specific (``logs.cn-north-1.amazonaws.com.cn``)."""
    cloudtrail = {"Service": "cloudtrail.amazonaws.com"}
    trail_context = f"arn:{partition}:cloudtrail:*:{account}:trail/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "CloudTrailEncryptsLogs", "Effect": "Allow", "Principal": cloudtrail,
             "Action": "kms:GenerateDataKey*", "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context}}},
            {"Sid": "CloudTrailDescribesKey", "Effect": "Allow", "Principal": cloudtrail, "Action": "kms:DescribeKey",
             "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
            {"Sid": "AccountDecryptsTrailLogs", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:Decrypt", "kms:ReEncryptFrom"], "Resource": "*",
             "Condition": {"StringEquals": {"kms:CallerAccount": account},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context}}},
            {"Sid": "CloudWatchLogsEncryptsLogGroup", "Effect": "Allow",
             "Principal": {"Service": f"logs.{region}.{dns_suffix}"},
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
             "Resource": "*",
             "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn":
                                         log_group_arn(partition, region, account, log_group)}}},
        ],
    }


def cloudtrail_assume_role_policy(trail: str, account: str) -> Document:
    """Only CloudTrail, acting for this trail in this account, may assume the delivery role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceArn": trail, "aws:SourceAccount": account}},
        }],
    }


def log_delivery_policy(partition: str, region: str, account: str, log_group: str) -> Document:
    """CreateLogStream/PutLogEvents on this log group's streams, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DeliverToThisLogGroup", "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn(partition, region, account, log_group)}:log-stream:*",
        }],
    }


def alarm_topic_key_policy(partition: str, account: str) -> Document:
    """CloudWatch alarms must be able to use the key that encrypts their SNS topic (the AWS-managed key won't do)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "CloudWatchPublishesAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
        ],
    }


# The exporter only reads CloudWatch metrics. These three actions do not support resource-level permissions
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html), so
# Resource "*" is unavoidable; no write, no logs:*, no tag:GetResources (aws_tag_select is not used).
EXPORTER_ACTIONS = ("cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics")


def exporter_policy() -> Document:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadCloudWatchMetrics", "Effect": "Allow", "Action": list(EXPORTER_ACTIONS),
                       "Resource": "*"}],
    }


def oidc_issuer(provider_arn: str) -> str:
    """``arn:aws:iam::123:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X`` -> the issuer host/path."""
    if ":oidc-provider/" not in provider_arn:
        raise ValueError(f"not an IAM OIDC provider ARN: {provider_arn!r}")
    return provider_arn.split(":oidc-provider/", 1)[1]


def irsa_trust_policy(provider_arn: str, namespace: str, service_account: str) -> Document:
    """Only pods running as ``namespace/service_account`` with an STS-audience token may assume the role."""
    issuer = oidc_issuer(provider_arn)
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }},
        }],
    }


def ec2_trust_policy() -> Document:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


#: The Teams adapter reads the events behind an alert, nothing else.
ADAPTER_ACTIONS = ("logs:FilterLogEvents",)


def adapter_policy(log_group_arn: str) -> Document:
    """``logs:FilterLogEvents`` on this one log group (the ARN with and without the ``:*`` suffix IAM uses)."""
    bare = log_group_arn[:-2] if log_group_arn.endswith(":*") else log_group_arn
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadTrailEventsOfThisLogGroup", "Effect": "Allow", "Action": list(ADAPTER_ACTIONS),
                       "Resource": [bare, f"{bare}:*"]}],
    }
