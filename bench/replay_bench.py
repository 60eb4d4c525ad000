#!/usr/bin/env python3
"""Benchmark: `trailwatch replay` with the whole catalog vs `jq` evaluating ONE filter, same file.

    .venv/bin/python bench/replay_bench.py [--records 1000000] [--cpu 0] [--file PATH] [--keep]

Generates (once, cached next to --file) a JSON-lines file of realistic CloudTrail records, then runs on
one pinned core, each as a child process measured with wait4 (wall time, peak RSS):

  replay: python -m trailwatch replay --stack <bench stack> --include-disabled --format json FILE
          (every catalog detection, per-minute series, alert simulation and top-N counters)
  jq:     jq -n 'reduce (inputs | select(.errorCode == "AccessDenied")) as $e (0; . + 1)' FILE
          (the access_denied metric filter, `{ $.errorCode = "AccessDenied" }`, counting matches)

and prints both throughputs, their ratio (replay / jq; goal >= 1.0) and the peak RSS of each. The two
AccessDenied counts must agree (a cross-check of the engine against jq). A second replay over a tenth of
the records shows whether replay's memory is flat (peak RSS should not grow with the input).
Not a test: timings depend on the machine. jq must be on PATH (or --jq).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240601

# (eventSource, eventName, weight): mostly read-only noise, a little of everything the catalog watches.
EVENTS = [
    ("ec2.amazonaws.com", "DescribeInstances", 120), ("ec2.amazonaws.com", "DescribeSecurityGroups", 40),
    ("ec2.amazonaws.com", "DescribeVolumes", 30), ("s3.amazonaws.com", "GetBucketAcl", 60),
    ("s3.amazonaws.com", "ListBuckets", 30), ("s3.amazonaws.com", "GetBucketPolicy", 20),
    ("sts.amazonaws.com", "AssumeRole", 150), ("sts.amazonaws.com", "GetCallerIdentity", 40),
    ("kms.amazonaws.com", "Decrypt", 120), ("kms.amazonaws.com", "GenerateDataKey", 60),
    ("iam.amazonaws.com", "GetRole", 25), ("iam.amazonaws.com", "ListRoles", 15),
    ("lambda.amazonaws.com", "ListFunctions20150331", 20), ("logs.amazonaws.com", "CreateLogStream", 40),
    ("cloudtrail.amazonaws.com", "LookupEvents", 5), ("config.amazonaws.com", "DescribeConfigRules", 10),
    ("signin.amazonaws.com", "ConsoleLogin", 4), ("ssm.amazonaws.com", "GetParameter", 50),
    ("secretsmanager.amazonaws.com", "GetSecretValue", 20), ("dynamodb.amazonaws.com", "DescribeTable", 25),
    # changes the CIS filters watch (rare)
    ("iam.amazonaws.com", "AttachRolePolicy", 1), ("iam.amazonaws.com", "PutRolePolicy", 1),
    ("cloudtrail.amazonaws.com", "UpdateTrail", 1), ("kms.amazonaws.com", "ScheduleKeyDeletion", 1),
    ("s3.amazonaws.com", "PutBucketPolicy", 1), ("config.amazonaws.com", "PutConfigurationRecorder", 1),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 2), ("ec2.amazonaws.com", "CreateNetworkAclEntry", 1),
    ("ec2.amazonaws.com", "CreateRoute", 1), ("ec2.amazonaws.com", "CreateVpc", 1),
    ("ec2.amazonaws.com", "AttachInternetGateway", 1), ("organizations.amazonaws.com", "AttachPolicy", 1),
]
AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2",
    "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.5",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
    "terraform-provider-aws/5.43.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0",
]


def _principals(rng: random.Random) -> list[dict]:
    out = []
    for i in range(150):
        if i % 3:
            role = rng.choice(["deploy", "ci-runner", "app-backend", "data-pipeline", "Admin", "ReadOnly"])
            session = f"session-{rng.randrange(10**6):06d}"
            out.append({
                "type": "AssumedRole", "principalId": f"AROA{rng.randrange(10**12):012d}:{session}",
                "arn": f"arn:aws:sts::123456789012:assumed-role/{role}-{i}/{session}", "accountId": "123456789012",
                "accessKeyId": f"ASIA{rng.randrange(10**12):012d}",
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROA{rng.randrange(10**12):012d}",
                                                     "arn": f"arn:aws:iam::123456789012:role/{role}-{i}",
                                                     "accountId": "123456789012", "userName": f"{role}-{i}"},
                                   "webIdFederationData": {},
                                   "attributes": {"creationDate": "2024-06-01T00:00:00Z", "mfaAuthenticated": "false"}},
            })
        else:
            out.append({"type": "IAMUser", "principalId": f"AIDA{rng.randrange(10**12):012d}",
                        "arn": f"arn:aws:iam::123456789012:user/user-{i}", "accountId": "123456789012",
                        "accessKeyId": f"AKIA{rng.randrange(10**12):012d}", "userName": f"user-{i}"})
    out.append({"type": "Root", "principalId": "123456789012", "arn": "arn:aws:iam::123456789012:root",
                "accountId": "123456789012", "accessKeyId": ""})
    return out


def generate(path: Path, n: int) -> None:
    import orjson

    rng = random.Random(SEED)
    principals = _principals(rng)
    ips = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
           for _ in range(2000)] + ["198.51.100.23", "203.0.113.66"]
    names = [e for e in EVENTS for _ in range(e[2])]
    start = datetime(2024, 6, 1, tzinfo=timezone.utc)
    step = 86400 / n  # one day of traffic
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as out:
        for i in range(n):
            source, name, _ = rng.choice(names)
            who = rng.choice(principals)
            when = start + timedelta(seconds=i * step)
            rec = {
                "eventVersion": "1.09", "userIdentity": who,
                "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": source, "eventName": name,
                "awsRegion": rng.choice(["us-east-1", "eu-west-1", "us-west-2"]),
                "sourceIPAddress": rng.choice(ips), "userAgent": rng.choice(AGENTS),
                "requestParameters": {"maxResults": 100, "filterSet": {"items": [{"name": "tag:team",
                                      "valueSet": {"items": [{"value": rng.choice(["red", "blue", "green"])}]}}]}},
                "responseElements": None,
                "requestID": f"{rng.getrandbits(128):032x}", "eventID": f"{rng.getrandbits(128):032x}",
                "readOnly": name.startswith(("Describe", "Get", "List", "Lookup")),
                "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": "123456789012",
                "eventCategory": "Management",
                "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                               "clientProvidedHostHeader": source.replace(".amazonaws.com", ".us-east-1.amazonaws.com")},
            }
            r = rng.random()
            if r < 0.02:
                rec["errorCode"], rec["errorMessage"] = "AccessDenied", (
                    f"User: {who['arn']} is not authorized to perform: {source.split('.')[0]}:{name}")
            elif r < 0.03:
                rec["errorCode"] = "Client.UnauthorizedOperation"
                rec["errorMessage"] = "You are not authorized to perform this operation."
            elif r < 0.04:
                rec["errorCode"], rec["errorMessage"] = "ThrottlingException", "Rate exceeded"
            if name == "ConsoleLogin":
                rec["eventType"] = "AwsConsoleSignIn"
                rec["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home",
                                              "MobileVersion": "No", "MFAUsed": rng.choice(["Yes", "Yes", "No"])}
                rec["responseElements"] = {"ConsoleLogin": "Success" if r > 0.1 else "Failure"}
                if r <= 0.1:
                    rec["errorMessage"] = "Failed authentication"
            out.write(orjson.dumps(rec) + b"\n")
    tmp.replace(path)


def run_measured(cmd: list[str], cpu: int | None, stdout_path: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit code) of one child process pinned to ``cpu``."""
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    with open(stdout_path, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, preexec_fn=pin, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode(errors="replace"))
    return wall, usage.ru_maxrss * 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, help="where to write/cache the generated JSON lines "
                        "(default: $TMPDIR/trailwatch-bench-<records>.jsonl)")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin both runs to (-1: no pinning)")
    parser.add_argument("--jq", default=shutil.which("jq") or "/usr/bin/jq")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    cpu = None if args.cpu < 0 else args.cpu

    if not Path(args.jq).exists():
        print(f"jq not found ({args.jq}); install it or pass --jq", file=sys.stderr)
        return 2
    big = args.file or Path(tempfile.gettempdir()) / f"trailwatch-bench-{args.records}.jsonl"
    small = big.with_name(big.stem + "-tenth.jsonl")
    for path, n in ((big, args.records), (small, max(args.records // 10, 1))):
        if not path.exists():
            print(f"generating {n:,} records -> {path}", file=sys.stderr)
            generate(path, n)
    size = big.stat().st_size

    with tempfile.TemporaryDirectory() as tmp:
        stack_dir = Path(tmp)
        (stack_dir / "Pulumi.bench.yaml").write_text(
            "config:\n  aws:region: us-east-1\n  trailwatch:suspiciousIps: ['203.0.113.66', '198.51.100.*']\n"
            "  trailwatch:enableDetections: [suspicious_source_ips]\n")
        replay = [args.python, "-m", "trailwatch", "replay", "--stack", "bench", "--config-dir", str(stack_dir),
                  "--include-disabled", "--format", "json"]
        jq = [args.jq, "-n", 'reduce (inputs | select(.errorCode == "AccessDenied")) as $e (0; . + 1)']
        out = stack_dir / "out"
        r_wall, r_rss, rc1 = run_measured(replay + [str(big)], cpu, out)
        doc = json.loads(out.read_text()) if not rc1 else {}
        j_wall, j_rss, rc2 = run_measured(jq + [str(big)], cpu, out)
        jq_count = int(out.read_text().strip() or -1) if not rc2 else -1
        s_wall, s_rss, rc3 = run_measured(replay + [str(small)], cpu, out)
    if rc1 or rc2 or rc3:
        return 1

    n = doc["events"]
    dets = doc["detections"]
    replay_rate, jq_rate = n / r_wall, args.records / j_wall
    print(f"trailwatch replay benchmark  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.processor() or platform.machine()} {_cpu_model()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {_jq_version(args.jq)}, pinned to core {cpu}")
    print(f"input:   {args.records:,} records, {size / 2**20:,.0f} MiB JSON lines ({size / args.records:,.0f} B/record)")
    print(f"replay:  {len(dets)} detections, {r_wall:6.2f} s  {replay_rate:10,.0f} records/s "
          f"{size / r_wall / 2**20:7.1f} MiB/s  peak RSS {r_rss / 2**20:6.1f} MiB")
    print(f"jq:      1 filter,      {j_wall:6.2f} s  {jq_rate:10,.0f} records/s "
          f"{size / j_wall / 2**20:7.1f} MiB/s  peak RSS {j_rss / 2**20:6.1f} MiB")
    print(f"ratio:   replay/jq throughput = {replay_rate / jq_rate:.2f}  (goal >= 1.0)")
    print(f"memory:  replay peak RSS {s_rss / 2**20:.1f} MiB on {args.records // 10:,} records, "
          f"{r_rss / 2**20:.1f} MiB on {args.records:,} ({s_wall:.2f} s / {r_wall:.2f} s)")
    agree = dets["access_denied"]["matches"] == jq_count
    print(f"check:   AccessDenied matches replay={dets['access_denied']['matches']:,} jq={jq_count:,} "
          f"{'agree' if agree else 'DISAGREE'}; malformed={doc['malformed']}")
    return 0 if agree else 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _jq_version(jq: str) -> str:
    try:
        return subprocess.run([jq, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "jq"


if __name__ == "__main__":
    sys.exit(main())
