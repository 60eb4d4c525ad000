"""Names the packaging tests share (imported by name: ``conftest`` is a different module in each test folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTION = "pulumi-trailwatch"
#: Every project whose requirements.txt installs the distribution, as a path inside the checkout.
CONSUMERS = sorted(p.parent.relative_to(ROOT).as_posix()
                   for p in [*ROOT.glob("examples/*/requirements.txt"), ROOT / "provider" / "requirements.txt"])


def pip(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
                            cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout
