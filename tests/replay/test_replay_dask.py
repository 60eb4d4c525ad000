"""`replay --dask ADDRESS`: the same tasks on a Dask cluster (a `distributed.LocalCluster` on 127.0.0.1 here),
merged there in a tree, give the local report; an unreachable scheduler is one line within the timeout."""

from __future__ import annotations

import json
import socket
import sys
import time

import dask
import pytest

from s3_helpers import BUCKET, s3_endpoint, s3_env  # noqa: F401 (fixtures)
from test_replay_workers import DETECTIONS, logs, small_units  # noqa: F401 (fixtures)
from trailwatch.cli import main
from trailwatch.replay import ReplayError, cluster, replay_paths, tasks
from trailwatch.replay.sources import Sources


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as local:
        yield local.scheduler_address


def test_a_cluster_gives_the_local_report(scheduler, logs, small_units, monkeypatch):
    monkeypatch.setattr(cluster, "FAN_IN", 3)  # about 17 tasks: merges of merges
    planned = list(tasks.plan(Sources([logs]), tasks.task_bytes(Sources([logs]).total_bytes, 2)))
    assert len(planned) > 9
    local = replay_paths([logs], DETECTIONS, top=20)
    assert replay_paths([logs], DETECTIONS, top=20, dask=scheduler) == local


def test_the_cli_on_a_cluster_reading_s3(scheduler, s3_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tasks, "MAX_SOURCES_PER_TASK", 2)
    (tmp_path / "Pulumi.d.yaml").write_text("config:\n  aws:region: us-east-1\n")
    base = ["replay", "--stack", "d", "--config-dir", str(tmp_path), "--format", "json", "--include-disabled"]
    assert main(base + ["--workers", "1", f"s3://{BUCKET}/"]) == 0
    here = json.loads(capsys.readouterr().out)
    assert main(base + ["--dask", scheduler, f"s3://{BUCKET}/"]) == 0
    assert json.loads(capsys.readouterr().out) == here
    assert here["events"] == 37  # 12 files of 3 records and the single-account trail's one


def test_an_unreachable_scheduler_is_one_line_within_the_connect_timeout(tmp_path, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "Pulumi.d.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "a.jsonl").write_text("{}\n")
    started = time.monotonic()
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        rc = main(["replay", "--stack", "d", "--config-dir", str(tmp_path), "--dask", f"tcp://127.0.0.1:{port}",
                   str(tmp_path / "a.jsonl")])
    assert rc == 2 and time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--dask tcp://127.0.0.1:{port}: cannot connect to a Dask scheduler" in err, err


def test_standard_input_cannot_go_to_a_cluster(scheduler):
    with pytest.raises(ReplayError, match="standard input"):
        replay_paths(["-"], DETECTIONS, dask=scheduler)


def test_without_the_distributed_package_dask_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an install without the replay extra sees
    with pytest.raises(ReplayError, match=r"pip install 'pulumi-trailwatch\[replay\]'"):
        cluster.connect("tcp://127.0.0.1:8786")
