#!/usr/bin/env python3
"""Benchmark: `trailwatch replay` with the whole catalog vs jq and DuckDB evaluating ONE filter, same file.

    .venv/bin/python bench/replay_bench.py [--records 1000000] [--repeat 3] [--cpu 0] [--file PATH]

Generates (once, cached next to --file) a JSON-lines file of realistic CloudTrail records, then runs each
tool as a child process measured with wait4 (wall time, peak RSS), one after another on the same file:

  replay: python -m trailwatch replay --stack <bench stack> --include-disabled --format json --workers 1 FILE
          (every catalog detection, per-minute series, alert simulation and top-N counters), pinned to one
          core; then --workers <all cores>, unpinned
  jq:     jq -n 'reduce (inputs | select(.errorCode == "AccessDenied")) as $e (0; . + 1)' FILE, one core
          (the access_denied metric filter, `{ $.errorCode = "AccessDenied" }`, counting matches)
  duckdb: SELECT count(*) FROM read_ndjson(FILE, columns = {'errorCode': 'VARCHAR'}) WHERE errorCode =
          'AccessDenied', with SET threads = 1 (pinned) and = all cores (exact string equality, not CloudWatch's
          filter semantics)
  orjson: a Python loop calling orjson.loads on every line (the floor of parsing every record), one core
  regex:  the prefilter's line recognition alone (replay's reader, and its regular expression matched on
          every line of each block, nothing counted): the cost of recognising every line in pure Python,
          which no exact scanner of this design avoids, one core

in --repeat rounds (each round runs every tool once, so a machine that slows down for a while slows all of
them alike), and prints each tool's fastest and slowest round side by side, with the ratios the
replay-at-scale goals are stated in, from the fastest rounds. The AccessDenied
counts of replay (both runs), jq and DuckDB must agree, the all-cores report must equal the one-core one,
and every record must be replayed; a replay over a tenth of the records shows whether memory is flat.
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240601
FORMAT = "v2"  # in the cached file's name: v2 writes errorCode and errorMessage where CloudTrail does

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
            # members in the order CloudTrail writes them (errorCode and errorMessage after userAgent)
            rec = {
                "eventVersion": "1.09", "userIdentity": who,
                "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": source, "eventName": name,
                "awsRegion": rng.choice(["us-east-1", "eu-west-1", "us-west-2"]),
                "sourceIPAddress": rng.choice(ips), "userAgent": rng.choice(AGENTS),
            }
            rest = {
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
                if r <= 0.1:
                    rec["errorMessage"] = "Failed authentication"
                rest["eventType"] = "AwsConsoleSignIn"
                rest["responseElements"] = {"ConsoleLogin": "Success" if r > 0.1 else "Failure"}
                rest["additionalEventData"] = {"LoginTo": "https://console.aws.amazon.com/console/home",
                                               "MobileVersion": "No", "MFAUsed": rng.choice(["Yes", "Yes", "No"])}
            rec.update(rest)
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


DUCKDB_COUNT = """
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads = {int(sys.argv[2])}")
query = "SELECT count(*) FROM read_ndjson(?, columns = {'errorCode': 'VARCHAR'}) WHERE errorCode = 'AccessDenied'"
print(con.execute(query, [sys.argv[1]]).fetchone()[0])
"""
ORJSON_LOOP = """
import sys, orjson
n = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        orjson.loads(line)
        n += 1
print(n)
"""
REGEX_PASS = """
import sys
from trailwatch.replay.linescan import recognise
from trailwatch.replay.readers import LineBlock, read_lines
n = 0
with open(sys.argv[1], "rb") as handle:
    for item in read_lines(handle, sys.argv[1], blocks=True):
        if type(item) is LineBlock:
            item.lines = item.records = len(recognise(item.data, item.end))
            n += item.lines
        else:  # a last line without a newline
            n += 1
print(n)
"""


@dataclass
class Run:
    name: str
    work: str
    wall: float  # the fastest round
    slowest: float
    rss: int  # the largest peak of the rounds
    out: str  # the same in every round, or measure() stops


@dataclass(frozen=True)
class Tool:
    name: str
    work: str
    cmd: list[str]
    cpu: int | None


def measure(tools: list[Tool], rounds: int, scratch: Path) -> list[Run]:
    """Each tool once per round, rounds one after another."""
    walls: list[list[float]] = [[] for _ in tools]
    rss = [0] * len(tools)
    outs: list[str | None] = [None] * len(tools)
    for _ in range(rounds):
        for i, tool in enumerate(tools):
            wall, peak, rc = run_measured(tool.cmd, tool.cpu, scratch)
            if rc:
                raise SystemExit(f"{tool.name} ({tool.work}) failed (exit {rc})")
            out = scratch.read_text()
            if outs[i] is not None and out != outs[i]:
                raise SystemExit(f"{tool.name} ({tool.work}) printed something else in another round")
            walls[i].append(wall)
            rss[i] = max(rss[i], peak)
            outs[i] = out
    return [Run(t.name, t.work, min(w), max(w), r, o or "") for t, w, r, o in zip(tools, walls, rss, outs)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, help="where to write/cache the generated JSON lines "
                        "(default: $TMPDIR/trailwatch-bench-<records>-<format>.jsonl)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each tool's fastest one counts (default 3)")
    parser.add_argument("--cpu", type=int, default=0, help="core the one-core runs are pinned to (-1: no pinning)")
    parser.add_argument("--jq", default=shutil.which("jq") or "/usr/bin/jq")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    cpu = None if args.cpu < 0 else args.cpu
    if args.repeat < 1:
        print(f"--repeat must be at least 1, not {args.repeat}", file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0))

    if not Path(args.jq).exists():
        print(f"jq not found ({args.jq}); install it or pass --jq", file=sys.stderr)
        return 2
    big = args.file or Path(tempfile.gettempdir()) / f"trailwatch-bench-{args.records}-{FORMAT}.jsonl"
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
        duck = [args.python, "-c", DUCKDB_COUNT, str(big)]
        out = stack_dir / "out"
        runs = measure([
            Tool("replay", "whole catalog, 1 core", replay + ["--workers", "1", str(big)], cpu),
            Tool("replay", f"whole catalog, {cores} cores", replay + ["--workers", str(cores), str(big)], None),
            Tool("jq", "1 filter, 1 core", jq + [str(big)], cpu),
            Tool("duckdb", "1 filter, 1 thread", duck + ["1"], cpu),
            Tool("duckdb", f"1 filter, {cores} threads", duck + [str(cores)], None),
            Tool("orjson", "parse only, 1 core", [args.python, "-c", ORJSON_LOOP, str(big)], cpu),
            Tool("regex", "line recognition only, 1 core", [args.python, "-c", REGEX_PASS, str(big)], cpu),
            Tool("replay", "whole catalog, 1 core, a tenth", replay + ["--workers", "1", str(small)], cpu),
        ], args.repeat, out)

    one, many, jq_run, duck1, duckn, parse, regex, tenth = runs
    doc, doc_n = json.loads(one.out), json.loads(many.out)
    print(f"trailwatch replay benchmark  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.processor() or platform.machine()} {_cpu_model()}, {cores} cores, "
          f"Python {platform.python_version()}, {_jq_version(args.jq)}, DuckDB {_duckdb_version()}, "
          f"one-core runs pinned to core {cpu}")
    print(f"input:   {args.records:,} records, {size / 2**20:,.0f} MiB JSON lines ({size / args.records:,.0f} B/record)")
    print()
    print(f"{'tool':<8} {'work':<34} {'fastest':>8} {'slowest':>8} {'records/s':>11} {'MiB/s':>7} {'peak RSS':>9}"
          f"   ({args.repeat} rounds)")
    for run in runs[:-1]:
        print(f"{run.name:<8} {run.work:<34} {run.wall:8.2f} {run.slowest:8.2f} {args.records / run.wall:11,.0f} "
              f"{size / run.wall / 2**20:7.1f} {run.rss / 2**20:7.1f}Mi")
    print()
    ratios = [("replay 1 core / DuckDB 1 thread", duck1.wall / one.wall, "goal >= 0.5; stretch >= 1.0"),
              ("replay 1 core / jq", jq_run.wall / one.wall, "goal >= 4"),
              (f"replay {cores} cores / replay 1 core", one.wall / many.wall, f"at most {cores}"),
              (f"replay {cores} cores / DuckDB {cores} threads", duckn.wall / many.wall, ""),
              ("replay 1 core / orjson parse-only loop", parse.wall / one.wall, "> 1: fewer full parses than records"),
              ("regex line pass / DuckDB 1 thread", duck1.wall / regex.wall,
               "the 0.5 goal leaves replay 2x this pass for everything")]
    for label, value, note in ratios:
        print(f"ratio:   {label:<42} {value:6.2f}  {note}")
    print(f"memory:  replay peak RSS {tenth.rss / 2**20:.1f} MiB on {args.records // 10:,} records, "
          f"{one.rss / 2**20:.1f} MiB on {args.records:,} ({tenth.wall:.2f} s / {one.wall:.2f} s)")
    counts = {"replay 1 core": doc["detections"]["access_denied"]["matches"],
              f"replay {cores} cores": doc_n["detections"]["access_denied"]["matches"],
              "jq": int(jq_run.out.strip()), "duckdb 1 thread": int(duck1.out.strip()),
              f"duckdb {cores} threads": int(duckn.out.strip())}
    agree = (len(set(counts.values())) == 1 and int(parse.out.strip()) == doc["events"] == args.records
             and int(regex.out.strip()) == args.records)
    same = _comparable(doc) == _comparable(doc_n)
    print(f"check:   AccessDenied matches {', '.join(f'{k}={v:,}' for k, v in counts.items())}: "
          f"{'agree' if agree else 'DISAGREE'}; records parsed={int(parse.out.strip()):,}, replayed={doc['events']:,}, "
          f"malformed={doc['malformed']}; {cores}-core report {'identical to' if same else 'DIFFERENT from'} 1-core")
    return 0 if agree and same else 1


def _comparable(doc: dict) -> dict:
    """The report without what names the run (the inputs are the same file)."""
    return {k: v for k, v in doc.items() if k not in ("files",)}


def _duckdb_version() -> str:
    try:
        import duckdb
        return duckdb.__version__
    except ImportError:
        return "(not installed)"


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
