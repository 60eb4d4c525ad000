"""Make a self-contained copy of the policy pack, for ``pulumi policy publish``.

In the repository the pack imports the trailwatch core from the checkout around it. A published pack is only
this directory, so this script copies it together with the core modules the policies import (and the
detection catalog the CIS policy reads) into one folder::

    python policy/bundle.py dist/policy-pack
    cd dist/policy-pack && pulumi policy publish <org>    # publishes the pack in the current directory

The bundle's ``__main__.py`` finds the bundled ``trailwatch`` package next to itself first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PACK_FILES = ("PulumiPolicy.yaml", "requirements.txt", "__main__.py")
CATALOG = Path("configs") / "detections.yaml"
_LIST_MODULES = ("import sys, trailwatch.policies, trailwatch.catalog; "
                 "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items() "
                 "if n.split('.')[0] == 'trailwatch' and getattr(m, '__file__', None))))")


def core_files() -> list[Path]:
    """The trailwatch source files the policies import (asked of a fresh interpreter, so nothing is missed)."""
    out = subprocess.run([sys.executable, "-c", _LIST_MODULES], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    return [Path(line).resolve().relative_to(ROOT) for line in out.splitlines() if line]


def bundle(target: Path) -> list[Path]:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for name in PACK_FILES:
        shutil.copy2(HERE / name, target / name)
        written.append(Path(name))
    for rel in core_files() + [CATALOG]:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target / rel)
        written.append(rel)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="folder to create (replaced if it exists)")
    args = parser.parse_args(argv)
    files = bundle(args.target.resolve())
    print(f"bundled {len(files)} files into {args.target}; publish with: "
          f"cd {args.target} && pulumi policy publish <org>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
