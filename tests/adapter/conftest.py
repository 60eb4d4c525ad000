"""One chain per module (processes start once); each test uses its own alert group (label ``case``)."""

from __future__ import annotations

import pytest

from adapter_chain import LOG_GROUP, AdapterProcess, start_alertmanager
from e2e.teams_standin import TeamsStandIn
from trailwatch.localrun import LogsEmulator


@pytest.fixture(scope="module")
def logs():
    emulator = LogsEmulator().start()
    emulator.events.setdefault(LOG_GROUP, [])
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def teams():
    with TeamsStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, teams, logs):
    proc = AdapterProcess(tmp_path_factory.mktemp("adapter"), teams.workflow_url, logs.url).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def am(tmp_path_factory, adapter):
    manager = start_alertmanager(tmp_path_factory.mktemp("alertmanager"), adapter.url)
    yield manager
    manager.stop()


@pytest.fixture(autouse=True)
def _healthy_logs(request):
    """Every test starts with a well-behaved Logs endpoint."""
    if "logs" in request.fixturenames:
        emulator = request.getfixturevalue("logs")
        emulator.mode, emulator.delay = "ok", 0.0
