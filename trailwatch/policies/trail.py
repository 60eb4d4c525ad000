"""What a trail records: logging on, every management event (read and write, every service), global services.

A trail that exists but records nothing useful passes every other check: ``enableLogging: false`` stops it;
event selectors can drop management events, keep only read-only ones, or (advanced selectors) drop the
services whose calls an attacker uses to hide (IAM, KMS, CloudTrail, STS); ``includeGlobalServiceEvents:
false`` drops IAM and STS, which are global services.
"""

from __future__ import annotations

from typing import Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, Severity

from ._common import UNKNOWN, as_list
from .aws import TRAIL, mandatory_policy

#: Event sources an attacker most wants out of the trail (named in messages when a selector drops them).
PROTECTED_SOURCES = ("iam.amazonaws.com", "kms.amazonaws.com", "cloudtrail.amazonaws.com", "sts.amazonaws.com")


def _logging(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    value = props.get("enableLogging")
    if value is not UNKNOWN and value is False:
        yield "enableLogging is false: the trail records nothing. Allowed: true (the default)."


def _global_events(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    value = props.get("includeGlobalServiceEvents")
    if value is not UNKNOWN and value is False:
        yield ("includeGlobalServiceEvents is false: IAM, STS and CloudFront calls (global services) go unrecorded. "
               "Allowed: true (the default).")


def _classic_selectors(selectors: list) -> Iterator[str]:
    for i, sel in enumerate(selectors):
        if not isinstance(sel, Mapping):
            continue
        where = f"eventSelectors[{i}]"
        include = sel.get("includeManagementEvents")
        rw = sel.get("readWriteType")
        excluded = [s for s in as_list(sel.get("excludeManagementEventSources")) if isinstance(s, str)]
        if include is False:
            yield (f"{where}.includeManagementEvents is false: management events (every control-plane call) are "
                   f"dropped. Allowed: true (the default).")
            continue
        if rw not in (None, UNKNOWN, "All"):
            yield (f"{where}.readWriteType is {rw!r}: only {str(rw).replace('Only', '-only').lower()} management "
                   f"events are recorded. Allowed: All.")
        if excluded:
            yield (f"{where}.excludeManagementEventSources drops {', '.join(excluded)}; allowed: none excluded.")


def _drops(field: Mapping, source: str) -> bool:
    """True when one advanced field selector on eventSource would drop ``source``'s events."""
    def strings(key: str) -> list[str]:
        return [v for v in as_list(field.get(key)) if isinstance(v, str)]

    if strings("equals") and source not in strings("equals"):
        return True
    if strings("startsWith") and not any(source.startswith(p) for p in strings("startsWith")):
        return True
    if strings("endsWith") and not any(source.endswith(p) for p in strings("endsWith")):
        return True
    return (source in strings("notEquals") or any(source.startswith(p) for p in strings("notStartsWith"))
            or any(source.endswith(p) for p in strings("notEndsWith")))


def _advanced_selectors(selectors: list) -> Iterator[str]:
    management = []
    for i, sel in enumerate(selectors):
        fields = [f for f in as_list(sel.get("fieldSelectors") if isinstance(sel, Mapping) else None) if isinstance(f, Mapping)]
        category = next((f for f in fields if f.get("field") == "eventCategory"), None)
        if category is None or "Management" not in as_list(category.get("equals")):
            continue
        management.append(i)
        where = f"advancedEventSelectors[{i}]"
        for f in fields:
            name = f.get("field")
            if name == "readOnly":
                kept = "read-only" if "true" in as_list(f.get("equals")) else "some"
                yield (f"{where}: a readOnly field selector keeps only {kept} management events; allowed: no "
                       f"readOnly selector (record reads and writes).")
            elif name == "eventSource":
                dropped = [s for s in PROTECTED_SOURCES if _drops(f, s)]
                what = ", ".join(dropped) if dropped else "some services'"
                yield (f"{where}: the eventSource field selector drops {what} management events (CIS detections "
                       f"need every service's); allowed: no eventSource selector on management events.")
            elif name not in ("eventCategory", None):
                yield f"{where}: a {name} field selector filters management events; allowed: eventCategory only."
    if not management:
        yield ("advancedEventSelectors has no selector with eventCategory = Management: management events are not "
               "recorded. Allowed: one selector with only eventCategory equals [Management].")


def _management_events(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    advanced = props.get("advancedEventSelectors")
    classic = props.get("eventSelectors")
    if advanced is UNKNOWN or classic is UNKNOWN:
        return
    if as_list(advanced):
        yield from _advanced_selectors(as_list(advanced))
    elif as_list(classic):
        yield from _classic_selectors(as_list(classic))


POLICIES = [
    mandatory_policy("cloudtrail-logging-enabled", "CloudTrail trails are logging (enableLogging is not false).",
                     (TRAIL,), _logging, Severity.CRITICAL),
    mandatory_policy("cloudtrail-all-management-events",
                     "CloudTrail trails record every management event: read and write, no excluded sources, and advanced "
                     "selectors that filter management events by nothing but their category.",
                     (TRAIL,), _management_events, Severity.CRITICAL),
    mandatory_policy("cloudtrail-global-service-events",
                     "CloudTrail trails include global service events (IAM, STS).",
                     (TRAIL,), _global_events, Severity.HIGH),
]
