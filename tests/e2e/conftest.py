"""End-to-end fixtures: the scenario runs every selected test needs start together, in background threads, at
the first test that asks for them; each test waits for its own run. Everything stops at the end of the session
(also on failure or Ctrl-C): processes by process group, servers by their own stop."""

from __future__ import annotations

import pytest
from harness import Runner
from scenarios import RUNS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e_run(name): the end-to-end scenario run a test asserts on")


@pytest.fixture(scope="session")
def e2e_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    needed = sorted({mark.args[0] for item in request.session.items for mark in item.iter_markers("e2e_run")})
    runner = Runner(tmp_path_factory.mktemp("e2e"))
    try:
        for name in needed:
            runner.start(name, RUNS[name])
        yield runner
    finally:
        runner.close()
