"""Run by the clean venv's interpreter (``python -I``): the example under trailwatch's mock harness, as JSON.

Prints where trailwatch was imported from, the interpreter's sys.path, every registration, the outputs, and
the component package's schema as the installed copy infers it.
"""

import json
import sys
from pathlib import Path

from pulumi.provider.experimental.component import ComponentProvider

import trailwatch
from trailwatch.components.provider import COMPONENTS, PACKAGE
from trailwatch.mockrun import run_program

example, project, log_group = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
recording = run_program({f"{project}:logGroupName": log_group}, root=example, project=project)
names = {r.urn: r.name for r in recording.resources}
print(json.dumps({
    "trailwatch": trailwatch.__file__,
    "version": trailwatch.__version__,
    "sys_path": sys.path,
    "resources": [{"type": r.type, "name": r.name, "parent": names.get(r.parent, ""), "inputs": r.inputs}
                  for r in recording.resources],
    "outputs": recording.outputs,
    "schema": json.loads(ComponentProvider(COMPONENTS, PACKAGE, version=trailwatch.__version__).schema),
}, default=str))
