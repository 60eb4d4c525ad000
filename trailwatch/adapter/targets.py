"""The resource an event acted on, as a card shows it: a detection's allow-list of ``requestParameters``
members (the catalog's ``target_parameters``), names and ids only.

``requestParameters`` also hold policy documents, user data, passwords and key material. Two guards keep
those in the log group. A member whose name says it holds a document or a secret (:data:`SECRET_WORDS`,
:data:`DOCUMENT_MEMBERS`) is refused where an allow-list is read: the catalog, stack config and the adapter's
config file. And only a short one-line string is ever copied out (:func:`target_values`): a member that holds
an object, a list, a number or a document reads as absent.

The catalog imports this module (the adapter's image holds only the adapter package, so the rule lives here).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from .webhook import scrub

#: At most this many members per detection, each at most :data:`MAX_DEPTH` names deep (``deliveryChannel.name``).
MAX_MEMBERS = 12
MAX_DEPTH = 3
#: A longer value is no name or id: it is not copied.
MAX_VALUE_CHARS = 256
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}\Z")
#: A member whose name contains one of these (any case) holds a document, a secret or key material.
SECRET_WORDS = ("document", "secret", "password", "passphrase", "credential", "token", "privatekey", "publickey",
                "accesskey", "sshkey", "userdata", "certificate", "content")
#: Members that hold a document or free-form data without saying so (any case): a bucket's ``policy`` or
#: ``bucketPolicy``, an SSM parameter's ``value``, an SSM command's ``parameters``, a Lambda ``environment``.
DOCUMENT_MEMBERS = ("policy", "bucketpolicy", "value", "parameters", "environment", "variables", "body", "data",
                    "payload")


def member_problem(member: Any) -> str | None:
    """Why ``member`` (a ``requestParameters`` member name, or a dotted path into one) may not be shown, or
    None if it may."""
    if not isinstance(member, str):
        return f"must be member names (got {member!r})"
    names = member.split(".")
    if len(names) > MAX_DEPTH or not all(_NAME.match(n) for n in names):
        return (f"{member!r} is not a requestParameters member: letters and digits, at most {MAX_DEPTH} names "
                "joined by '.'")
    for name in (n.lower() for n in names):
        if name in DOCUMENT_MEMBERS or any(word in name for word in SECRET_WORDS):
            return f"{member!r} may hold a policy document or a secret; only names and ids may be shown"
    return None


def targets_problem(value: Any) -> str | None:
    """Why ``value`` is not an allow-list of target members (a list of distinct, allowed members), or None."""
    if not isinstance(value, (list, tuple)) or not value:
        return "must be a non-empty list of requestParameters member names, e.g. [bucketName]"
    if len(value) > MAX_MEMBERS:
        return f"has {len(value)} members; at most {MAX_MEMBERS}"
    for member in value:
        problem = member_problem(member)
        if problem:
            return problem
    if len(set(value)) != len(value):
        return "names a member twice"
    return None


def dig(record: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` (member names) in a decoded JSON record, or None where the path leaves it."""
    for name in path:
        if not isinstance(record, dict):
            return None
        record = record.get(name)
    return record


def _shown(value: Any) -> str | None:
    """``value`` if it reads as a name or an id: a one-line string of at most :data:`MAX_VALUE_CHARS`, not a
    JSON document."""
    if not isinstance(value, str):
        return None
    value = scrub(value).strip()
    if not value or len(value) > MAX_VALUE_CHARS or not value.isprintable() or value[0] in "{[":
        return None
    return value


def target_values(request_parameters: Any, members: Sequence[str]) -> list[tuple[str, str]]:
    """(member, value) for each allowed member of ``members`` that ``request_parameters`` holds as a name or
    an id, in allow-list order. A member refused by :func:`member_problem` is never read."""
    out = []
    for member in members:
        if member_problem(member) is None:
            value = _shown(dig(request_parameters, member.split(".")))
            if value is not None:
                out.append((member, value))
    return out
