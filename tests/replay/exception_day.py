"""A small day of CloudTrail for the replay's exception tests: benign automation that pages all day, and a few
steps that must keep paging (root use, a same-named role in a foreign account, a user doing IAM by hand)."""

from __future__ import annotations

from typing import Any

ACCOUNT = "111122223333"
FOREIGN = "999988887777"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/gha-deployer"
EKS = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster-role"
CI_USER = f"arn:aws:iam::{ACCOUNT}:user/ci-bot"
DAY = "2024-05-01"


def event(minute: str, name: str, identity: dict[str, Any], ip: str, agent: str | None, **more: Any) -> dict:
    rec = {"eventVersion": "1.09", "userIdentity": identity, "eventTime": f"{DAY}T{minute}:07Z",
           "eventSource": "ec2.amazonaws.com", "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip}
    if agent is not None:
        rec["userAgent"] = agent
    rec.update(more)
    return rec


def role_session(role_arn: str, session: str) -> dict:
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    return {"type": "AssumedRole", "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn}}}


def day() -> list[dict]:
    """Every two hours a Pulumi deploy from GitHub Actions (security groups and a role policy, from two runner
    ranges, SDK versions varying); every hour EKS revokes a node security group rule; every three hours a
    CI user puts a user policy with the AWS CLI; plus the steps that must page."""
    events = []
    for hour in range(0, 24, 2):
        ident = role_session(DEPLOYER, f"run-{hour}")
        ip = ["4.175.114.10", "20.57.79.200"][hour % 4 // 2]
        agent = f"aws-sdk-go-v2/1.2{hour % 3}.0 os/linux lang/go#1.21 md/GOOS#linux pulumi-aws/6.{hour}"
        for k, name in enumerate(["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "PutRolePolicy"]):
            events.append(event(f"{hour:02d}:{10 + k:02d}", name, ident, ip, agent))
    for hour in range(24):
        events.append(event(f"{hour:02d}:40", "RevokeSecurityGroupIngress", role_session(EKS, "eks-session"),
                            "eks.amazonaws.com", "eks.amazonaws.com"))
    for hour in range(1, 24, 3):
        events.append(event(f"{hour:02d}:50", "PutUserPolicy", {"type": "IAMUser", "arn": CI_USER},
                            "198.51.100.23", "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64"))
    # must page: a role named like the deployer in another account, root signing in, a user's hand edit
    events.append(event("06:21", "PutRolePolicy", role_session(f"arn:aws:iam::{FOREIGN}:role/gha-deployer", "x"),
                        "4.175.114.10", "aws-sdk-go-v2/1.21.0 os/linux pulumi-aws/6.2"))
    for minute in ("07:03", "15:03"):
        events.append(event(minute, "ConsoleLogin", {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"},
                            "203.0.113.9", "Mozilla/5.0", eventType="AwsConsoleSignIn"))
    events.append(event("09:33", "PutUserPolicy", {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory"},
                        "203.0.113.50", "aws-cli/2.15.30"))
    return sorted(events, key=lambda e: e["eventTime"])
