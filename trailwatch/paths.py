"""Where trailwatch's files are, in a source checkout and in an installed wheel.

The checkout is a Pulumi project: ``configs/`` and ``components/`` sit next to ``Pulumi.yaml``, one level above
this package. The wheel installs those same folders inside the package (``trailwatch/configs``,
``trailwatch/components``, ``trailwatch/examples/demo``; see pyproject.toml), so an installed copy finds its data
without the checkout.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED = (PACKAGE_DIR / "configs").is_dir()
#: The folder holding ``configs/`` and ``examples/demo/`` (the demo's sample): the package itself when installed, the
#: checkout otherwise.
DATA_ROOT = PACKAGE_DIR if INSTALLED else PACKAGE_DIR.parent
#: The Pulumi project the offline tools read stack files from by default: the checkout, or (installed) the
#: folder the command runs in, as with the Pulumi CLI.
PROJECT_ROOT = Path.cwd() if INSTALLED else PACKAGE_DIR.parent
