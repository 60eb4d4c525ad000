"""The trailwatch policy pack: ``pulumi preview --policy-pack policy``. Only constructs the PolicyPack (it blocks).

The policies are in ``trailwatch/policies/`` so ``python -m trailwatch plan`` runs the same code offline. The
Pulumi CLI runs this file with ``python -m pulumi.policy <engine> .`` from this directory, inside this
directory's own virtualenv, so the trailwatch core is not importable by default: it is taken from a bundled
copy next to this file (``python policy/bundle.py`` makes one, for ``pulumi policy publish``) or else from the
repository checkout this directory belongs to.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for root in (HERE, HERE.parent):
    if (root / "trailwatch" / "policies" / "__init__.py").is_file():
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        break
else:
    raise SystemExit(f"trailwatch policy pack: the trailwatch core is neither bundled in {HERE} nor in "
                     f"{HERE.parent}; run `python policy/bundle.py` or use the pack from a repository checkout")

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from trailwatch.policies import PACK_DESCRIPTION, PACK_NAME, POLICIES  # noqa: E402

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY,
           description=PACK_DESCRIPTION)
