"""A stand-in for the ``pulumi`` CLI binary: records every invocation and plays a scripted scenario.

The Automation API runs it exactly as it runs the real CLI (``PulumiCommand(root=...)`` -> ``<root>/bin/pulumi``,
arguments, working directory, environment), so the tests see the real commands. State lives in
``$FAKE_PULUMI_STATE``: ``calls.jsonl`` (one line per invocation), ``stacks.json`` (existing stacks),
``scenario.json`` (stdout lines, engine events, outputs, failure for preview/up/destroy).
"""

import json
import os
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_PULUMI_STATE"])
ARGV = sys.argv[1:]
ARGS = [a for a in ARGV if a != "--non-interactive"]


def load(name, default):
    path = STATE / name
    return json.loads(path.read_text()) if path.exists() else default


def record():
    env = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_") and k != "PULUMI_HOME"}
    with open(STATE / "calls.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": ARGV, "cwd": os.getcwd(), "env": env}) + "\n")


def option(name):
    for i, arg in enumerate(ARGS):
        if arg == name:
            return ARGS[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def send_events(address, events):
    import grpc
    from pulumi.runtime.proto import events_pb2, events_pb2_grpc

    with grpc.insecure_channel(address[len("tcp://"):]) as channel:
        stub = events_pb2_grpc.EventsStub(channel)
        stub.StreamEvents(iter([events_pb2.EventRequest(event=json.dumps({"sequence": i, "timestamp": 0, **e}))
                                for i, e in enumerate(events)]))


def main():
    record()
    scenario = load("scenario.json", {})
    stacks = load("stacks.json", [])
    if ARGS[:1] == ["version"]:
        print("v3.272.0")
        return 0
    if ARGS[:2] == ["stack", "select"]:
        name = option("--stack")
        if name not in stacks:
            print(f"error: no stack named '{name}' found", file=sys.stderr)
            return 255
        return 0
    if ARGS[:2] == ["stack", "init"]:
        (STATE / "stacks.json").write_text(json.dumps(stacks + [ARGS[2]]))
        return 0
    if ARGS[:2] == ["config", "set-all"]:
        return 0
    if ARGS[:3] == ["stack", "output", "--json"]:
        outputs = scenario.get("outputs", {})
        shown = {k: v["value"] if "--show-secrets" in ARGS or not v.get("secret") else "[secret]"
                 for k, v in outputs.items()}
        print(json.dumps(shown))
        return 0
    if ARGS[:2] == ["stack", "history"]:
        print(json.dumps([{"kind": scenario.get("kind", "update"), "startTime": "2025-01-01T00:00:00.000000Z",
                           "endTime": "2025-01-01T00:01:00.000000Z", "message": "", "environment": {},
                           "config": {}, "result": "failed" if scenario.get("fail") else "succeeded",
                           "version": 1, "resourceChanges": scenario.get("changes", {})}]))
        return 0
    if ARGS and ARGS[0] in ("preview", "up", "destroy"):
        for line in scenario.get("stdout", []):
            print(line, flush=True)
        events = list(scenario.get("events", []))
        events.append({"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1,
                                        "resourceChanges": scenario.get("changes", {}), "PolicyPacks": {}}})
        events.append({"cancelEvent": {}})
        address = option("--event-log")
        if address and address.startswith("tcp://"):
            send_events(address, events)
        elif address:
            with open(address, "a", encoding="utf-8") as log:
                for e in events:
                    log.write(json.dumps({"sequence": 0, "timestamp": 0, **e}) + "\n")
        if scenario.get("fail"):
            print(scenario["fail"], file=sys.stderr)
            return 255
        return 0
    print(f"fake pulumi: unexpected command {ARGV}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
