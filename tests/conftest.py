"""Shared fixtures."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


#: Files whose tests wait minutes on real Prometheus / Alertmanager / Teams stand-in clocks. `make test` runs
#: them first, each in its own worker, so the rest of the suite fills the time they spend waiting.
SLOW_FIRST = (
    "e2e/test_e2e_scenarios.py", "policy/test_offline_runner.py", "adapter/test_demo.py",
    "e2e/test_e2e_exceptions.py", "adapter/test_adapter_load.py", "adapter/test_demo_exceptions.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [name for name in SLOW_FIRST if not (ROOT / "tests" / name).is_file()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py SLOW_FIRST names files that do not exist: {missing}")
    def rank(item: pytest.Item) -> int:
        where = item.path.relative_to(ROOT / "tests").as_posix()
        return SLOW_FIRST.index(where) if where in SLOW_FIRST else len(SLOW_FIRST)
    items.sort(key=rank)  # stable: the order inside each group is pytest's own
