"""Helpers shared by the policies: plain values out of pulumi_policy's proxies, IAM documents, stack config.

The engine hands a policy the resource's inputs (camelCase keys, numbers as floats, secrets unwrapped) behind
pulumi_policy's proxy, which raises ``UnknownValueError`` on any value only known after apply. Policies here
first take a *plain* copy where such values are the ``UNKNOWN`` sentinel, and decide explicitly what an
unknown means (usually: "set, but not checkable during preview; checked again on ``pulumi up``").
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError, _is_unknown

from ..contract import PROJECT


class _Unknown:
    """A value the engine cannot know during preview (computed by a provider on create)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
STACK_TYPE = "pulumi:pulumi:Stack"


def plain(value: Any) -> Any:
    """A plain dict/list copy of a (proxied) property value; unknowns become ``UNKNOWN``."""
    target = value
    if hasattr(value, "__getitem__") and not isinstance(value, (str, bytes, dict, list, tuple)):
        try:
            target = value["__target"]  # pulumi_policy's _DictProxy / _ListProxy / secrets proxies
        except (KeyError, TypeError, IndexError, UnknownValueError):
            target = value
    if isinstance(target, str):
        return UNKNOWN if _is_unknown(target) else target
    if isinstance(target, Mapping):
        return {k: plain(target[k]) for k in list(target)}
    if isinstance(target, (list, tuple)):
        return [plain(v) for v in target]
    if hasattr(target, "value") and type(target).__name__ == "Secret":  # pulumi_policy.Secret (remediation)
        return plain(target.value)
    return target


def dig(value: Any, *path: Any, default: Any = None) -> Any:
    """``value[p0][p1]...`` on plain data; ``default`` when missing, ``UNKNOWN`` when any step is unknown."""
    cur = value
    for key in path:
        if cur is UNKNOWN:
            return UNKNOWN
        if isinstance(cur, Mapping) and key in cur:
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(key, int) and -len(cur) <= key < len(cur):
            cur = cur[key]
        else:
            return default
        if cur is None:
            return default
    return cur


def as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def shown_number(value: Any) -> Any:
    """Numbers arrive as floats (9106.0); show whole ones as written (9106)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def resource_policy(name: str, types: Iterable[str], check: Callable[[dict, ResourceValidationArgs],
                                                                       Iterator[str]]
                    ) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A ``validate`` callback that runs ``check(props, args)`` on resources of ``types`` and reports each message.

    ``check`` receives plain props (see :func:`plain`) and yields one message per violation.
    """
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in wanted:
            return
        for message in check(plain(args.props), args):
            report_violation(message, None)

    validate.__name__ = f"validate_{name.replace('-', '_')}"
    return validate


# --- stack configuration -----------------------------------------------------------------------------------
# A policy pack process receives the stack's configuration (all keys, secrets decrypted) in PULUMI_CONFIG;
# pulumi_policy loads it into pulumi.runtime's config before every Analyze / AnalyzeStack call. The offline
# runner (trailwatch.offline_policy) sets the same values the same way.

def stack_config(key: str, default: Optional[str] = None) -> Optional[str]:
    """The stack's value for ``trailwatch:<key>`` (a string, as Pulumi passes config), or ``default``."""
    import pulumi.runtime

    value = pulumi.runtime.get_config(key if ":" in key else f"{PROJECT}:{key}")
    return default if value is None else str(value)


def stack_flag(key: str, default: bool = False) -> bool:
    value = stack_config(key)
    return default if value is None else value.strip().lower() == "true"


# --- IAM documents -----------------------------------------------------------------------------------------

def document(value: Any) -> Any:
    """A policy document from a JSON string (or an already-parsed mapping); ``UNKNOWN`` / None passed through.

    Returns None for missing or unparseable text (an invalid document fails at the provider anyway).
    """
    if value is UNKNOWN or value is None:
        return value
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def statements(doc: Any) -> list[dict]:
    if not isinstance(doc, Mapping):
        return []
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def allow_statements(doc: Any) -> list[dict]:
    return [s for s in statements(doc) if s.get("Effect", "Allow") == "Allow"]


def actions(statement: Mapping) -> list[str]:
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def label(statement: Mapping, index: int) -> str:
    sid = statement.get("Sid")
    return f"statement {index}" + (f" ({sid})" if sid else "")


def in_component(urn: str, component_type: str) -> bool:
    """True when the URN's qualified type shows the resource is (a descendant of) a ``component_type`` component."""
    parts = urn.split("::")
    if len(parts) < 4:
        return False
    return component_type in parts[2].split("$")[:-1]


# --- conditions and accounts (resource policies and trust policies) -------------------------------------------

#: Condition keys that pin a request to one account, organisation or source resource (confused deputy).
SCOPING_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths",
                          "aws:sourceowner", "aws:principalaccount", "aws:principalorgid", "aws:principalarn",
                          "aws:principalorgpaths", "kms:calleraccount"})
_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


def condition_keys(statement: Mapping) -> dict[str, tuple[str, Any]]:
    """Lower-cased condition key -> (operator, value) of a statement."""
    out: dict[str, tuple[str, Any]] = {}
    cond = statement.get("Condition")
    if isinstance(cond, Mapping):
        for op, body in cond.items():
            if isinstance(body, Mapping):
                for key, value in body.items():
                    out[str(key).lower()] = (str(op), value)
    return out


def weak_value(value: Any) -> bool:
    """True when a scoping condition value matches any account: ``*``, a wildcard account, an ARN whose account
    field is empty or a wildcard."""
    for item in as_list(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(int(item))  # a numeric account id
        if not isinstance(item, str) or not item.strip() or item.strip() in ("*", "?"):
            return True
        text = item.strip()
        if text.startswith("arn:"):
            parts = text.split(":", 5)
            account = parts[4] if len(parts) > 4 else ""
            service = parts[2] if len(parts) > 2 else ""
            if service != "s3" and (not account or "*" in account or "?" in account):
                return True
        elif "*" in text or "?" in text:
            return True
    return False


def scoping_conditions(statement: Mapping, extra: frozenset = frozenset()) -> tuple[list[str], list[str]]:
    """``(keys, weak keys)``: the statement's scoping condition keys (``SCOPING_KEYS`` plus ``extra``), and those
    of them whose value matches any account."""
    keys = condition_keys(statement)
    found = [k for k in keys if k in SCOPING_KEYS or k in extra]
    return found, [k for k in found if weak_value(keys[k][1])]


def principal_values(statement: Mapping, kind: str) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*" and kind == "AWS":
        return ["*"]
    if not isinstance(principal, Mapping):
        return []
    return [p for p in as_list(principal.get(kind)) if isinstance(p, str)]


def home_accounts(doc: Any) -> set[str]:
    """Accounts a document is about: every 12-digit account id outside its AWS principals (conditions,
    resources, federated providers). The program writes the stack's own account there (getCallerIdentity)."""
    found: set[str] = set()
    for st in statements(doc):
        found |= set(_ACCOUNT.findall(json.dumps([st.get("Condition"), st.get("Resource"),
                                                  principal_values(st, "Federated")], default=str)))
    return found


def principal_account(principal: str) -> str | None:
    """The account of an AWS principal (``123456789012``, ``arn:aws:iam::123456789012:root|role/x``)."""
    match = _ACCOUNT.search(principal)
    return match.group(0) if match else None
