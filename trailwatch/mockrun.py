"""Run the Pulumi program under the SDK's mocks and record every registration, as the engine would see it.

Used by ``python -m trailwatch plan`` and by the tests: one harness, so what the tests assert is what plan
shows. Imports Pulumi, so only ``plan`` and tests import this module.
"""

from __future__ import annotations

import runpy
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from .stack import PROJECT_ROOT

ACCOUNT_ID = "123456789012"
_INVOKES: dict[str, Callable[[Mapping[str, Any]], dict]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": lambda a: {
        "accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/plan", "userId": "AIDAPLAN", "id": ACCOUNT_ID},
    "aws:index/getPartition:getPartition": lambda a: {
        "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"},
    "aws:organizations/getOrganization:getOrganization": lambda a: {
        "id": "o-exampleorg1", "arn": f"arn:aws:organizations::{ACCOUNT_ID}:organization/o-exampleorg1",
        "masterAccountId": ACCOUNT_ID},
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": lambda a: {
        "userName": "AWS", "password": "mock-ecr-password", "authorizationToken": "bW9jaw==",
        "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.mock.amazonaws.com", "expiresAt": "2099-01-01T00:00:00Z",
        "id": ACCOUNT_ID},
}


_IAM_ARN_KINDS = {"aws:iam/role:Role": "role", "aws:iam/user:User": "user", "aws:iam/policy:Policy": "policy",
                  "aws:iam/instanceProfile:InstanceProfile": "instance-profile"}


@dataclass
class Registration:
    """One RegisterResource request: what the engine would receive for this resource."""
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    provider: str
    protect: bool
    depends_on: list[str]
    property_dependencies: dict[str, list[str]]
    additional_secret_outputs: list[str]
    ignore_changes: list[str]


@dataclass
class Recording:
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Registration:
        found = self.of_type(type_)
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registration | None:
        return next((r for r in self.resources if r.urn == urn), None)


class TrailwatchMocks(pulumi_mocks.Mocks):
    """Fills in what the providers would compute (ids, ARNs, names) so dependent inputs resolve."""

    def __init__(self, region: str):
        self.region = region

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        state = dict(args.inputs)
        name = state.get("name") or args.name
        if args.typ.startswith("kubernetes:"):
            meta = dict(state.get("metadata") or {})
            meta.setdefault("name", args.name)
            state["metadata"] = meta
        elif args.typ.startswith("docker:"):
            state.setdefault("name", args.name)
            if args.typ == "docker:index/remoteImage:RemoteImage":
                state["imageId"] = f"sha256:{args.name}"
                state["repoDigest"] = f"{state['name']}@sha256:{args.name}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = f"mock-random-{args.name}"
        elif args.typ == "docker-build:index:Image":
            state["digest"] = "sha256:" + "c" * 64
            state["ref"] = f"{state['tags'][0]}@{state['digest']}"
        elif args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            state.setdefault("name", name)
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{name}")
            if args.typ == "aws:s3/bucket:Bucket":
                state.setdefault("bucket", f"{args.name}-0000000")
                state["arn"] = f"arn:aws:s3:::{state['bucket']}"
                return state["bucket"], state
            if args.typ == "aws:ecr/repository:Repository":
                state["registryId"] = ACCOUNT_ID
                state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{name}"
            if args.typ == "aws:kms/key:Key":
                state["keyId"] = f"{args.name}-key-id"
                state["arn"] = f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{state['keyId']}"
            if args.typ == "aws:cloudtrail/trail:Trail":
                state["arn"] = f"arn:aws:cloudtrail:{self.region}:{ACCOUNT_ID}:trail/{name}"
            if args.typ == "aws:cloudwatch/logGroup:LogGroup":
                state["arn"] = f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}"
            if args.typ in _IAM_ARN_KINDS:
                state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:{_IAM_ARN_KINDS[args.typ]}/{name}"
            if args.typ == "aws:iam/accessKey:AccessKey":
                state["secret"] = f"mock-secret-access-key-{args.name}"
                return f"AKIAMOCK{args.name.upper()}"[:20], state
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs):
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com", "description": self.region}
        handler = _INVOKES.get(args.token)
        if handler is None:
            raise NotImplementedError(f"no mock for invoke {args.token}")
        return handler(args.args)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps the raw RegisterResource requests: parent, options and dependencies are not in MockResourceArgs."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.lock = threading.Lock()
        self.recording = Recording()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            reg = Registration(
                type=request.type, name=request.name, urn=response.urn, parent=request.parent,
                custom=request.custom, inputs=inputs, provider=request.provider, protect=request.protect,
                depends_on=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                additional_secret_outputs=list(request.additionalSecretOutputs),
                ignore_changes=list(request.ignoreChanges),
            )
            with self.lock:
                self.recording.resources.append(reg)
        return response


def run_program(config: Mapping[str, str], secret_keys: tuple[str, ...] = (), stack: str = "dev",
                program: Callable[[], None] | None = None, root: Path = PROJECT_ROOT,
                project: str = "trailwatch") -> Recording:
    """Run ``program`` (default: ``root``'s ``__main__.py``) under mocks with this config; return what it registered.

    ``project`` is the Pulumi project name (``pulumi.Config()`` reads ``<project>:<key>``).
    """
    region = config.get("aws:region", "us-east-1")
    mocks = TrailwatchMocks(region)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.reset_options()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    if program is None:
        def program() -> None:
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    pulumi.runtime.test(program)()
    stack_resource = pulumi_mocks.get_root_resource()
    monitor.recording.outputs = pulumi_mocks._sync_await(_resolve_outputs(stack_resource))
    return monitor.recording


async def _resolve_outputs(stack_resource: Any) -> dict[str, Any]:
    outputs = getattr(stack_resource, "outputs", {}) or {}
    serialized = await rpc.serialize_properties(outputs, {})
    return rpc.deserialize_properties(serialized, keep_unknowns=True)
