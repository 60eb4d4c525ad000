"""Preview, deploy and destroy a trailwatch stack from Python, through the Pulumi Automation API.

Other tools call this instead of shelling out to ``pulumi``::

    from trailwatch.automation import StackRunner, secret

    runner = StackRunner("prod", {
        "aws:region": "eu-west-1",
        "logRetentionDays": 365,
        "runtime": "docker",
        "teamsWebhookUrl": secret(os.environ["TEAMS_WEBHOOK_URL"]),
    }, backend_url="file://~/.trailwatch-state", secrets_provider="passphrase", on_output=print)
    result = runner.preview()          # the policy pack in policy/ runs as part of it
    if result.succeeded and not result.mandatory_violations:
        result = runner.up()
    print(result.summary, result.outputs)  # secret outputs are "[secret]"

* The program is inline and is the same function ``__main__.py`` runs (``components.program.main``, which
  calls ``build_pipeline``): one function builds the pipeline whichever way it is deployed.
* Config is a dict: keys ``trailwatch:<key>`` (or just ``<key>``) and provider keys such as ``aws:region``;
  values as in a stack file; wrap secrets with :func:`secret`. It is validated with the same code as
  ``plan`` and the program before any command runs; a key declared secret (``teamsWebhookUrl``) or a webhook
  URL passed *without* :func:`secret` is refused (:class:`~trailwatch.errors.ConfigError`).
* Backend: ``backend_url`` or, if not given, ``PULUMI_BACKEND_URL`` from the environment (else the CLI's
  current login). The local file backend is ``file://<dir>`` (``file://~`` = ``~/.pulumi``); its secrets need a
  passphrase: ``secrets_provider="passphrase"`` and ``PULUMI_CONFIG_PASSPHRASE`` (or ``..._FILE``) in the
  environment or in ``env``. Keep ``work_dir`` stable for such stacks (it holds the stack's encryption salt).
* ``preview`` and ``up`` run with ``--policy-pack policy`` (the pack's own virtualenv, ``policy/.venv``, must
  exist: ``python -m venv policy/.venv && policy/.venv/bin/pip install -r policy/requirements.txt``).
* Output streams line by line to ``on_output``; structured engine events to ``on_event``.
* Every operation returns a :class:`Result` (summary of resource changes, outputs with secrets masked, policy
  violations, success flag and error text). Command failures (a mandatory policy violation fails a preview)
  are results with ``succeeded=False``, not exceptions; bad config raises before anything runs.
* The Automation API drives the Pulumi CLI: without it (no ``pulumi`` on ``PATH`` and no ``pulumi_command``),
  every operation raises :class:`PulumiCliMissing`, a one-line :class:`~trailwatch.errors.TrailwatchError`
  that says how to install it (:class:`PulumiCliUnusable` for a CLI version the SDK refuses).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Optional, Sequence

from .contract import PROJECT
from .errors import ConfigError, TrailwatchError
from .paths import INSTALLED
from .policies import contains_webhook
from .settings import declared, qualified
from .stack import PROJECT_ROOT, stack_from_config
from .violations import Violation

POLICY_PACK = PROJECT_ROOT / "policy"
SECRET_MASK = "[secret]"
Operation = Literal["preview", "up", "destroy"]
INSTALL_HINT = "https://www.pulumi.com/docs/iac/download-install/"


class PulumiCliUnusable(TrailwatchError):
    """The Pulumi CLI on PATH has a version this SDK refuses."""


class PulumiCliMissing(TrailwatchError):
    """The Automation API needs the Pulumi CLI and it is not installed."""

    def __init__(self, command: str):
        super().__init__(f"the Pulumi CLI is not installed ({command!r} not found): the Automation API runs it; "
                         f"install it ({INSTALL_HINT}, e.g. `curl -fsSL https://get.pulumi.com | sh`) or pass "
                         f"pulumi_command=PulumiCommand(root=...)")


@dataclass(frozen=True)
class Secret:
    """A config value to store encrypted (``pulumi config set --secret``)."""

    value: Any

    def __repr__(self) -> str:
        return "Secret([secret])"


def secret(value: Any) -> Secret:
    return Secret(value)


@dataclass(frozen=True)
class Result:
    operation: Operation
    stack: str
    succeeded: bool
    summary: dict[str, int] = field(default_factory=dict)
    """Resource changes by operation, e.g. ``{"create": 40, "same": 2}``."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs after ``up`` (secret ones are ``"[secret]"``); empty for preview and destroy."""
    violations: tuple[Violation, ...] = ()
    error: Optional[str] = None

    @property
    def mandatory_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.mandatory)


def config_values(config: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Config as the strings Pulumi stores, fully qualified keys, and which keys are secret."""
    strings: dict[str, str] = {}
    secrets = []
    for key, value in config.items():
        key = qualified(str(key))
        if isinstance(value, Secret):
            secrets.append(key)
            value = value.value
        if isinstance(value, bool):
            strings[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple, dict)):
            strings[key] = json.dumps(list(value) if isinstance(value, tuple) else value)
        else:
            strings[key] = str(value)
    return strings, tuple(secrets)


def validate_config(stack: str, strings: Mapping[str, str], secrets: Sequence[str]) -> None:
    declared_secret = {qualified(f.metadata["key"]) for f in declared() if f.metadata["secret"]}
    for key in sorted(strings):
        if key in secrets:
            continue
        if key in declared_secret and strings[key]:
            raise ConfigError(f"config '{key}': is secret; pass it as trailwatch.automation.secret(value)")
        if contains_webhook(strings[key]):
            raise ConfigError(f"config '{key}': holds a Teams/Power Automate webhook URL; pass it as "
                              f"trailwatch.automation.secret(value) (value not shown)")
    stack_from_config(stack, strings, tuple(secrets))  # the same validation as the program and plan


def _type_and_name(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    if len(parts) < 4:
        return "", ""
    return parts[2].split("$")[-1], parts[3]


def _program() -> Callable[[], None]:
    """``components.program.main``, the function ``__main__.py`` runs: from the checkout's ``components/``, or
    ``trailwatch.components`` when trailwatch is installed from the wheel (no checkout on the path then)."""
    if INSTALLED:
        from trailwatch.components.program import main
    else:
        if str(PROJECT_ROOT) not in sys.path:
            sys.path.insert(0, str(PROJECT_ROOT))
        from components.program import main

    return main


class StackRunner:
    """One trailwatch stack, driven through the Automation API (see the module docstring)."""

    def __init__(self, stack: str, config: Mapping[str, Any], *, backend_url: Optional[str] = None,
                 secrets_provider: Optional[str] = None, policy_packs: Sequence[os.PathLike | str] = (POLICY_PACK,),
                 on_output: Optional[Callable[[str], Any]] = None, on_event: Optional[Callable[[Any], Any]] = None,
                 env: Optional[Mapping[str, str]] = None, work_dir: Optional[os.PathLike | str] = None,
                 pulumi_command: Any = None):
        self.stack_name = stack
        self.config, self.secret_keys = config_values(config)
        validate_config(stack, self.config, self.secret_keys)
        self.backend_url = backend_url or os.environ.get("PULUMI_BACKEND_URL")
        self.secrets_provider = secrets_provider
        self.policy_packs = [str(Path(p).resolve()) for p in policy_packs]
        self.on_output = on_output
        self.on_event = on_event
        self.env = dict(env or {})
        if self.backend_url:
            self.env["PULUMI_BACKEND_URL"] = self.backend_url
        self.work_dir = str(work_dir) if work_dir is not None else None
        self.pulumi_command = pulumi_command
        self._stack = None

    # --- Automation API plumbing ------------------------------------------------------------------------
    def workspace_options(self):
        from pulumi import automation as auto

        return auto.LocalWorkspaceOptions(
            work_dir=self.work_dir, env_vars=self.env, secrets_provider=self.secrets_provider,
            project_settings=auto.ProjectSettings(
                name=PROJECT, runtime="python", main=str(PROJECT_ROOT),
                description="CloudTrail security alerting delivered to Microsoft Teams through Prometheus"),
            pulumi_command=self.pulumi_command)

    def stack(self):
        """The selected (created if new) Automation API stack, with this runner's config set on it."""
        if self._stack is None:
            from pulumi import automation as auto

            stack = auto.create_or_select_stack(self.stack_name, project_name=PROJECT, program=_program(),
                                                opts=self.workspace_options())
            stack.set_all_config({key: auto.ConfigValue(value, secret=key in self.secret_keys)
                                  for key, value in self.config.items()})
            self._stack = stack
        return self._stack

    def _run(self, operation: Operation, call: Callable[[dict], Any]) -> Result:
        from pulumi import automation as auto

        violations: list[Violation] = []
        summary: dict[str, int] = {}

        def on_event(event) -> None:
            if event.policy_event is not None:
                pe = event.policy_event
                rtype, name = _type_and_name(pe.resource_urn or "")
                violations.append(Violation(
                    policy=pe.policy_name, level=pe.enforcement_level, pack=pe.policy_pack_name, type=rtype,
                    name=name, message=pe.message, urn=pe.resource_urn or ""))
            if event.summary_event is not None:
                summary.update(event.summary_event.resource_changes or {})
            if self.on_event is not None:
                self.on_event(event)

        kwargs = {"on_output": self.on_output, "on_event": on_event, "color": "never"}
        try:
            result = call(kwargs)
        except FileNotFoundError as exc:  # the SDK runs `pulumi version` first, and fails like this without it
            if Path(str(exc.filename or "")).name != "pulumi":
                raise
            raise PulumiCliMissing(str(exc.filename)) from None
        except auto.InvalidVersionError as exc:  # a CLI too old (or too new) for this SDK
            raise PulumiCliUnusable(f"the Pulumi CLI cannot be used: {exc}".replace("\n", " ")) from None
        except auto.CommandError as exc:
            return Result(operation, self.stack_name, False, dict(summary), {}, tuple(violations),
                          _error_text(exc))
        outputs = {}
        if getattr(result, "outputs", None):
            outputs = {k: SECRET_MASK if v.secret else v.value for k, v in result.outputs.items()}
        if getattr(result, "summary", None) is not None and result.summary.resource_changes:
            summary = dict(result.summary.resource_changes)
        elif getattr(result, "change_summary", None):
            summary = dict(result.change_summary)
        return Result(operation, self.stack_name, True, summary, outputs, tuple(violations))

    # --- operations --------------------------------------------------------------------------------------
    def preview(self) -> Result:
        return self._run("preview", lambda kw: self.stack().preview(policy_packs=self.policy_packs, **kw))

    def up(self) -> Result:
        return self._run("up", lambda kw: self.stack().up(policy_packs=self.policy_packs, **kw))

    def destroy(self) -> Result:
        return self._run("destroy", lambda kw: self.stack().destroy(**kw))


def _error_text(exc: Exception) -> str:
    """The CLI's ``error:`` lines from stderr (else its last stderr lines); the CLI never prints secrets."""
    text = str(exc.args[0] if exc.args else exc)
    stderr = text.split(" stderr: ", 1)[1] if " stderr: " in text else text
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]
    return "\n".join(errors or lines[-5:])


def preview(stack: str, config: Mapping[str, Any], **options: Any) -> Result:
    return StackRunner(stack, config, **options).preview()


def up(stack: str, config: Mapping[str, Any], **options: Any) -> Result:
    return StackRunner(stack, config, **options).up()


def destroy(stack: str, config: Mapping[str, Any], **options: Any) -> Result:
    return StackRunner(stack, config, **options).destroy()
