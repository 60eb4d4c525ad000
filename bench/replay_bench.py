#!/usr/bin/env python3
"""Benchmark: `trailwatch replay` (the whole catalog) against jq, DuckDB and an orjson parse loop (one filter), on
the same CloudTrail records in both layouts users have, in one run.

    .venv/bin/python bench/replay_bench.py [--records 1000000] [--repeat 1] [--cpu 0] [--file PATH]

Generates (once, cached next to --file) a day of realistic CloudTrail records as JSON lines, and the same records in
CloudTrail's S3 layout: gzip documents ``{"Records": [...]}`` of about 2,000 records each, one stream of files per
region, under ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/``. Each tool runs as a child process measured with
wait4 (wall time, peak RSS), one after another, on each layout:

  replay  python -m trailwatch replay --stack <bench stack> --include-disabled --format json --workers 1 INPUT
          (every catalog detection, per-minute series, alert simulation, top-N counters), pinned to one core; then
          --workers <all cores>, unpinned; and on a tenth of the records (is memory flat?)
  jq      the access_denied filter, `{ $.errorCode = "AccessDenied" }`, counting matches, on one core: for the
          documents, zcat of every file into jq; for JSON lines, jq on the file
  duckdb  the same count, with SET threads = 1 (pinned) and = all cores; the query is stated in the output (exact
          string equality, not CloudWatch's filter semantics). For the documents, read_json with the Records member
          declared (format auto infers every member of every record and runs out of memory).
  orjson  the Python parse floor, one core: each document gunzipped and parsed with orjson.loads and a loop over
          its Records (or orjson.loads of each line), counting the same matches, with the cyclic garbage collector
          paused as replay pauses it
  regex   JSON lines only: the line recognition of replay's prefilter alone (its reader and regular expression on
          every line, nothing counted), the one step no exact scanner of its design avoids, one core

in --repeat rounds (each runs every tool once; each tool's fastest round counts, its slowest is printed beside it),
then prints both layouts side by side with replay's ratio to the parse floor. Every count of AccessDenied must agree,
and replay's reports must be the same on both layouts and on one core or all (what makes it exit 1). The child
processes get a scratch bytecode cache (PYTHONPYCACHEPREFIX), so PYTHONDONTWRITEBYTECODE in the caller's
environment does not add compiling to every replay run. Not a test: timings depend on the machine. A tool that is
missing (jq not on PATH, the duckdb package not installed) is reported as not run, not left out silently.
"""

from __future__ import annotations

import argparse
import gzip
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
ACCOUNT = "123456789012"
PER_FILE = 2000  # records per S3 object (CloudTrail writes a file per region every few minutes)
LAYOUTS = ("documents", "lines")
TITLES = {"documents": "S3 documents (.json.gz)", "lines": "JSON lines"}

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



def write_documents(lines: Path, folder: Path) -> None:
    """The records of a JSON-lines file in CloudTrail's S3 layout: per region, in time order, files of
    ``PER_FILE`` records named as CloudTrail names them (compact JSON, gzip)."""
    import orjson

    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    pending: dict[str, list[bytes]] = {}
    written = [0]

    def flush(region: str) -> None:
        batch = pending.pop(region)
        first = orjson.loads(batch[0])["eventTime"]  # YYYY-MM-DDTHH:MM:SSZ
        day = tmp / "AWSLogs" / ACCOUNT / "CloudTrail" / region / first[:4] / first[5:7] / first[8:10]
        day.mkdir(parents=True, exist_ok=True)
        stamp = first[:16].replace("-", "").replace(":", "") + "Z"
        name = f"{ACCOUNT}_CloudTrail_{region}_{stamp}_{written[0]:08x}.json.gz"
        (day / name).write_bytes(gzip.compress(b'{"Records":[' + b",".join(batch) + b"]}", compresslevel=6, mtime=0))
        written[0] += 1

    with open(lines, "rb") as handle:
        for line in handle:
            line = line.rstrip(b"\n")
            region = orjson.loads(line)["awsRegion"]
            pending.setdefault(region, []).append(line)
            if len(pending[region]) == PER_FILE:
                flush(region)
    for region in sorted(pending):
        flush(region)
    tmp.replace(folder)


def run_measured(cmd: list[str], cpu: int | None, stdout_path: Path, env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit code) of one child process pinned to ``cpu``."""
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    with open(stdout_path, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, preexec_fn=pin, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode(errors="replace"))
    return wall, usage.ru_maxrss * 1024, proc.returncode


DUCKDB_COUNT = """
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads = {int(sys.argv[3])}")
con.execute("SET enable_progress_bar = false")  # long queries would draw one on stdout
print(con.execute(sys.argv[1], [sys.argv[2]]).fetchone()[0])
"""
DUCKDB_QUERIES = {
    "documents": "SELECT count(*) FROM (SELECT unnest(Records) AS r FROM read_json(?, format = 'unstructured', "
                 "records = true, columns = {'Records': 'STRUCT(errorCode VARCHAR)[]'})) "
                 "WHERE r.errorCode = 'AccessDenied'",
    "lines": "SELECT count(*) FROM read_ndjson(?, columns = {'errorCode': 'VARCHAR'}) WHERE errorCode = 'AccessDenied'",
}
JQ_FILTERS = {
    "documents": 'reduce (inputs | .Records[] | select(.errorCode == "AccessDenied")) as $e (0; . + 1)',
    "lines": 'reduce (inputs | select(.errorCode == "AccessDenied")) as $e (0; . + 1)',
}
ORJSON_FLOORS = {
    "documents": """
import gc, gzip, os, sys, orjson
gc.disable()
records = denied = 0
for folder, _, names in sorted(os.walk(sys.argv[1])):
    for name in sorted(names):
        with gzip.open(os.path.join(folder, name), "rb") as handle:
            doc = orjson.loads(handle.read())
        for rec in doc["Records"]:
            records += 1
            if rec.get("errorCode") == "AccessDenied":
                denied += 1
print(denied, records)
""",
    "lines": """
import gc, sys, orjson
gc.disable()
records = denied = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        records += 1
        if orjson.loads(line).get("errorCode") == "AccessDenied":
            denied += 1
print(denied, records)
""",
}
RECOGNITION = """
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
FLOOR_TEXT = {"documents": "per file: gzip read, orjson.loads, a loop over Records (gc paused)",
              "lines": "orjson.loads of each line (gc paused)"}


@dataclass(frozen=True)
class Tool:
    name: str
    work: str
    layout: str
    cmd: list[str] | None  # None: not run (``missing`` says why)
    cpu: int | None
    missing: str = ""


@dataclass
class Run:
    tool: Tool
    wall: float = 0.0  # the fastest round
    slowest: float = 0.0
    rss: int = 0  # the largest peak of the rounds
    out: str = ""  # the same in every round, or measure() stops


def measure(tools: list[Tool], rounds: int, scratch: Path, env: dict[str, str]) -> list[Run]:
    """Each tool that can run, once per round, rounds one after another."""
    runs = [Run(t) for t in tools]
    walls: list[list[float]] = [[] for _ in tools]
    for _ in range(rounds):
        for run, spent in zip(runs, walls):
            tool = run.tool
            if tool.cmd is None:
                continue
            wall, peak, rc = run_measured(tool.cmd, tool.cpu, scratch, env)
            if rc:
                raise SystemExit(f"{tool.name} ({tool.work}, {tool.layout}) failed (exit {rc})")
            out = scratch.read_text()
            if spent and out != run.out:
                raise SystemExit(f"{tool.name} ({tool.work}, {tool.layout}) printed something else in another round")
            spent.append(wall)
            run.rss, run.out = max(run.rss, peak), out
    for run, spent in zip(runs, walls):
        if spent:
            run.wall, run.slowest = min(spent), max(spent)
    return runs


def tools_for(layout: str, data: Path, tenth: Path, replay: list[str], python: str, jq: str | None, cores: int,
              cpu: int | None, duckdb: bool) -> list[Tool]:
    """What runs on one layout: ``data`` is its file (JSON lines) or folder (documents)."""
    if jq is None:
        jq_tool = Tool("jq", "1 filter, 1 core", layout, None, cpu, "jq not found on PATH (install jq or pass --jq)")
    elif layout == "documents":
        pipeline = 'find "$1" -name "*.json.gz" | sort | xargs zcat | "$2" -n "$3"'
        jq_tool = Tool("jq", "1 filter, 1 core", layout,
                       ["sh", "-c", pipeline, "sh", str(data), jq, JQ_FILTERS[layout]], cpu)
    else:
        jq_tool = Tool("jq", "1 filter, 1 core", layout, [jq, "-n", JQ_FILTERS[layout], str(data)], cpu)
    source = str(data / "AWSLogs" / "**" / "*.json.gz") if layout == "documents" else str(data)
    duck = [python, "-c", DUCKDB_COUNT, DUCKDB_QUERIES[layout], source]
    why = "" if duckdb else "the duckdb package is not installed in this Python"
    return [  # in the order they run: the floor right after replay, so that a slow spell of the machine is less
        # likely to fall between the two runs of the headline ratio
        Tool("replay", "whole catalog, 1 core", layout, replay + ["--workers", "1", str(data)], cpu),
        Tool("orjson", "parse floor, 1 core", layout, [python, "-c", ORJSON_FLOORS[layout], str(data)], cpu),
        Tool("replay", f"whole catalog, {cores} cores", layout, replay + ["--workers", str(cores), str(data)], None),
        jq_tool,
        Tool("duckdb", "1 filter, 1 thread", layout, duck + ["1"] if duckdb else None, cpu, why),
        Tool("duckdb", f"1 filter, {cores} threads", layout, duck + [str(cores)] if duckdb else None, None, why),
        # the one step of replay's JSON-lines scanner that no exact scanner of its design avoids (docs/measured.md)
        Tool("regex", "line recognition only, 1 core", layout,
             [python, "-c", RECOGNITION, str(data)] if layout == "lines" else None, cpu),
        Tool("replay", "whole catalog, 1 core, a tenth", layout, replay + ["--workers", "1", str(tenth)], cpu),
    ]


def inputs(args: argparse.Namespace) -> dict[str, tuple[Path, Path]]:
    """Per layout, the data and its tenth (generated once, cached)."""
    big = args.file or Path(tempfile.gettempdir()) / f"trailwatch-bench-{args.records}-{FORMAT}.jsonl"
    small = big.with_name(big.stem + "-tenth.jsonl")
    for path, n in ((big, args.records), (small, max(args.records // 10, 1))):
        if not path.exists():
            print(f"generating {n:,} records -> {path}", file=sys.stderr)
            generate(path, n)
    folders = {}
    for path in (big, small):
        folder = path.with_name(path.stem + "-s3")
        if not folder.exists():
            print(f"writing them in CloudTrail's S3 layout -> {folder}", file=sys.stderr)
            write_documents(path, folder)
        folders[path] = folder
    return {"documents": (folders[big], folders[small]), "lines": (big, small)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, help="where to write/cache the generated JSON lines; the S3 layout "
                        "goes next to it (default: $TMPDIR/trailwatch-bench-<records>-<format>.jsonl)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each tool's fastest one counts (default 1)")
    parser.add_argument("--cpu", type=int, default=0, help="core the one-core runs are pinned to (-1: no pinning)")
    parser.add_argument("--jq", default=shutil.which("jq"), help="jq to run (default: the one on PATH)")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    cpu = None if args.cpu < 0 else args.cpu
    if args.repeat < 1 or args.records < 10:
        print("--repeat must be at least 1 and --records at least 10", file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0))
    jq = args.jq if args.jq and Path(args.jq).exists() else None
    duckdb = _duckdb_version(args.python) is not None
    data = inputs(args)

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "Pulumi.bench.yaml").write_text(
            "config:\n  aws:region: us-east-1\n  trailwatch:suspiciousIps: ['203.0.113.66', '198.51.100.*']\n"
            "  trailwatch:enableDetections: [suspicious_source_ips]\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
        replay = [args.python, "-m", "trailwatch", "replay", "--stack", "bench", "--config-dir", str(scratch),
                  "--include-disabled", "--format", "json"]
        subprocess.run(replay + [str(data["lines"][1])], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)
        tools = [t for layout in LAYOUTS for t in tools_for(layout, *data[layout], replay, args.python, jq, cores, cpu,
                                                              duckdb)]
        runs = measure(tools, args.repeat, scratch / "out", env)
    return report(args, runs, data, cores, cpu, jq)


def report(args: argparse.Namespace, runs: list[Run], data: dict[str, tuple[Path, Path]], cores: int,
           cpu: int | None, jq: str | None) -> int:
    """Print the table from one run; 0 if every count agrees and replay's reports are the same everywhere."""
    by = {(r.tool.layout, r.tool.name, r.tool.work): r for r in runs}
    works = list(dict.fromkeys((r.tool.name, r.tool.work) for r in runs))
    documents = sorted(data["documents"][0].rglob("*.json.gz"))
    gz = sum(p.stat().st_size for p in documents)
    lines = data["lines"][0].stat().st_size
    print(f"trailwatch replay benchmark  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.processor() or platform.machine()} {_cpu_model()}, {cores} cores, "
          f"Python {platform.python_version()}, {_jq_version(jq)}, DuckDB {_duckdb_version(args.python) or '-'}, "
          f"one-core runs pinned to core {cpu}, {args.repeat} round(s)")
    print(f"input:   {args.records:,} CloudTrail records (one day, 3 regions), the same records in both layouts:")
    print(f"         S3 documents: {len(documents):,} .json.gz files of up to {PER_FILE:,} records under "
          f"AWSLogs/{ACCOUNT}/CloudTrail/<region>/YYYY/MM/DD/, {gz / 2**20:,.0f} MiB ({lines / max(gz, 1):.0f}:1)")
    print(f"         JSON lines:   one file, {lines / 2**20:,.0f} MiB")
    print("queries: the one filter, errorCode = AccessDenied (replay evaluates every detection of the catalog)")
    for layout in LAYOUTS:
        print(f"  {TITLES[layout]}:")
        print(f"    jq      {_jq_text(layout, jq)}")
        print(f"    duckdb  {DUCKDB_QUERIES[layout].replace('?', repr(_duck_source(layout)))}")
        print(f"    orjson  {FLOOR_TEXT[layout]}")
    print()
    width = 34
    print(f"{'tool':<7} {'work':<32}" + "".join(f" | {TITLES[layout]:^{width}}" for layout in LAYOUTS))
    print(f"{'':<7} {'':<32}" + f" | {'fastest':>8} {'slowest':>8} {'Mrec/s':>6} {'peak RSS':>9}" * len(LAYOUTS))
    for name, work in works:
        cells = []
        for layout in LAYOUTS:
            run = by[(layout, name, work)]
            if run.tool.cmd is None:
                cells.append(f"{'not run' if run.tool.missing else '-':^{width}}")
            else:
                n = args.records // 10 if work.endswith("a tenth") else args.records
                cells.append(f"{run.wall:7.2f}s {run.slowest:7.2f}s {n / run.wall / 1e6:6.3f} "
                             f"{run.rss / 2**20:6.0f} MiB")
        print(f"{name:<7} {work:<32}" + "".join(f" | {c}" for c in cells))
    for run in runs:
        if run.tool.missing:
            print(f"not run: {run.tool.name} ({run.tool.work}, {TITLES[run.tool.layout]}): {run.tool.missing}")
    print()
    one = {layout: by[(layout, "replay", "whole catalog, 1 core")] for layout in LAYOUTS}
    many = {layout: by[(layout, "replay", f"whole catalog, {cores} cores")] for layout in LAYOUTS}
    tenth = {layout: by[(layout, "replay", "whole catalog, 1 core, a tenth")] for layout in LAYOUTS}
    floor = {layout: by[(layout, "orjson", "parse floor, 1 core")] for layout in LAYOUTS}
    print("ratios of wall times (fastest rounds):")
    for layout in LAYOUTS:
        print(f"  {TITLES[layout]}:")
        met = one[layout].wall <= 1.5 * floor[layout].wall
        _ratio("replay 1 core / orjson parse floor", one[layout], floor[layout],
               f"goal <= 1.5: {'met' if met else 'NOT met'}" if layout == "documents" else "")
        for other, work in (("jq", "1 filter, 1 core"), ("duckdb", "1 filter, 1 thread")):
            against = by[(layout, other, work)]
            _ratio(f"replay 1 core / {other} {work.split(', ')[1]}", one[layout], against,
                   f"replay is {'faster' if one[layout].wall < against.wall else 'slower'}")
        _ratio(f"replay 1 core / replay {cores} cores", one[layout], many[layout], "the speed-up")
        print(f"    memory: replay's peak RSS {tenth[layout].rss / 2**20:.0f} MiB on {args.records // 10:,} records, "
              f"{one[layout].rss / 2**20:.0f} MiB on {args.records:,}")
    return _checks(args, runs, by, cores)


def _ratio(label: str, run: Run, other: Run, note: str) -> None:
    if other.tool.cmd is not None:
        print(f"    {label:<44} {run.wall / other.wall:6.2f}   {note}".rstrip())


def _checks(args: argparse.Namespace, runs: list[Run], by: dict, cores: int) -> int:
    """Every AccessDenied count agrees, every record is replayed, and replay's reports are the same on both layouts
    and any number of cores."""
    counts: dict[str, int] = {}
    reports = {}
    records = {}
    for run in runs:
        tool = run.tool
        if tool.cmd is None or tool.work.endswith("a tenth"):
            continue
        if tool.name == "regex":
            records[f"{tool.layout} line recognition"] = int(run.out)
            continue
        label = f"{tool.layout} {tool.name} {tool.work.split(', ')[-1].replace(' ', '-')}"
        if tool.name == "replay":
            doc = json.loads(run.out)
            counts[label] = doc["detections"]["access_denied"]["matches"]
            records[label] = doc["events"] + doc["malformed"]
            reports[label] = {k: v for k, v in doc.items() if k != "files"}  # the inputs are the same records
        elif tool.name == "orjson":
            denied, seen = map(int, run.out.split())
            counts[label], records[label] = denied, seen
        else:
            counts[label] = int(run.out.strip())
    agree = len(set(counts.values())) == 1 and set(records.values()) == {args.records}
    same = len({json.dumps(r, sort_keys=True) for r in reports.values()}) == 1
    print(f"check:   AccessDenied matches: {'all agree' if len(set(counts.values())) == 1 else 'DISAGREE'} "
          f"({', '.join(f'{k}={v:,}' for k, v in counts.items())})")
    print(f"         records read: {'all' if set(records.values()) == {args.records} else 'NOT all'} "
          f"({', '.join(f'{k}={v:,}' for k, v in records.items())})")
    print(f"         replay's reports on both layouts, 1 core and {cores} cores: "
          f"{'identical' if same else 'DIFFERENT'}")
    return 0 if agree and same else 1


def _duck_source(layout: str) -> str:
    return "<folder>/AWSLogs/**/*.json.gz" if layout == "documents" else "<file>.jsonl"


def _jq_text(layout: str, jq: str | None) -> str:
    if jq is None:
        return "(not run: jq not found on PATH)"
    if layout == "documents":
        return f"find <folder> -name '*.json.gz' | sort | xargs zcat | jq -n '{JQ_FILTERS[layout]}'"
    return f"jq -n '{JQ_FILTERS[layout]}' <file>.jsonl"


def _duckdb_version(python: str) -> str | None:
    found = subprocess.run([python, "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _jq_version(jq: str | None) -> str:
    if jq is None:
        return "jq not found"
    try:
        return subprocess.run([jq, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "jq"


if __name__ == "__main__":
    sys.exit(main())
