"""Account, partition and region of the deploying credentials, for ARNs and policy conditions.

Partition-aware so the same program works in ``aws``, ``aws-cn`` and ``aws-us-gov``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: pulumi.Output[str]
    dns_suffix: pulumi.Output[str]

    @classmethod
    def lookup(cls, parent: pulumi.Resource) -> "AwsContext":
        opts = pulumi.InvokeOptions(parent=parent)
        identity = aws.get_caller_identity_output(opts=opts)
        partition = aws.get_partition_output(opts=opts)
        region = aws.get_region_output(opts=opts)
        return cls(identity.account_id, partition.partition, region.region, partition.dns_suffix)
