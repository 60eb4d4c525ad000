"""Run by a consumer venv's interpreter (``python -I``): an example project under trailwatch's mock harness, then
trailwatch's policy pack over what it registered, as JSON.

``run_example.py EXAMPLE_DIR CONFIG_JSON``: CONFIG_JSON maps the project's config keys to values, and lists under
``secret`` those set with ``--secret``. A Python project runs its ``__main__.py``; a YAML one is evaluated over the
installed component provider (``yaml_program.py``, beside this file). Prints where trailwatch was imported from,
the interpreter's sys.path, every registration, the outputs, the policy violations and the component package's
schema as the installed copy infers it.
"""

import importlib.util
import json
import sys
from pathlib import Path

import yaml
from pulumi.provider.experimental.component import ComponentProvider

import trailwatch
from trailwatch.components.provider import COMPONENTS, PACKAGE
from trailwatch.mockrun import run_program
from trailwatch.offline_policy import analyze

STACK = "prod"

example, given = Path(sys.argv[1]), json.loads(sys.argv[2])
secret = given.pop("secret", [])
project = yaml.safe_load((example / "Pulumi.yaml").read_text())
provider = ComponentProvider(COMPONENTS, PACKAGE, version=trailwatch.__version__)
schema = json.loads(provider.schema)
if project["runtime"] == "yaml":
    spec = importlib.util.spec_from_file_location("yaml_program", Path(__file__).with_name("yaml_program.py"))
    yaml_program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(yaml_program)
    recording = run_program({}, program=lambda: yaml_program.run(project, provider, schema, given),
                            project=project["name"], stack=STACK)
else:
    recording = run_program({f"{project['name']}:{key}": value for key, value in given.items()},
                            tuple(f"{project['name']}:{key}" for key in secret), root=example, project=project["name"],
                            stack=STACK)
names = {r.urn: r.name for r in recording.resources}
print(json.dumps({
    "trailwatch": trailwatch.__file__,
    "version": trailwatch.__version__,
    "sys_path": sys.path,
    "resources": [{"type": r.type, "name": r.name, "parent": names.get(r.parent, ""), "inputs": r.inputs}
                  for r in recording.resources],
    "outputs": recording.outputs,
    "violations": [{"policy": v.policy, "level": v.level, "name": v.name, "message": v.message}
                   for v in analyze(recording, {}, STACK, project["name"])],
    "schema": schema,
}, default=str))
