"""The core package (catalog, config, renderers, offline tools) imports without Pulumi.

Teams whose Prometheus already runs use render/replay/match without the Pulumi SDK; only plan imports it,
lazily, when it runs the program.
"""

import subprocess
import sys

CORE_MODULES = [
    "trailwatch", "trailwatch.catalog", "trailwatch.settings", "trailwatch.stack", "trailwatch.naming",
    "trailwatch.iam_documents", "trailwatch.docs", "trailwatch.images", "trailwatch.plan_checks", "trailwatch.filterpattern",
    "trailwatch.render", "trailwatch.contract", "trailwatch.series", "trailwatch.stackfile", "trailwatch.adapter",
    "trailwatch.replay", "trailwatch.violations", "trailwatch.cli", "trailwatch.commands.plan",
    "trailwatch.commands.render", "trailwatch.commands.replay", "trailwatch.commands.match",
]


def test_core_modules_do_not_import_pulumi(repo_root):
    code = ("import importlib, sys\n"
            f"for name in {CORE_MODULES!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_policy')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
