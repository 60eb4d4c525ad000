"""Image references: which ones count as pinned (an allowed version tag or a real digest), without Pulumi.

A reference is ``[registry[:port]/]path[:tag][@sha256:<64 hex>]``. A tag is only the part after the last ``:``
that follows the last ``/`` (``localhost:5000/exporter`` has no tag). A mutable tag (``:main``, ``:LATEST``,
``:stable``) can be repointed by whoever controls the registry, so the tag must match an allow-list shape
(default: a semantic version such as ``v0.18.0`` or ``1.5.4``, or ``src-<16 hex>``: the tag trailwatch gives
the adapter image it builds, a hash of the build context pushed to an ECR repository with immutable tags); a
digest must be ``sha256:`` with exactly 64 lower-case hex digits (an empty ``@sha256:`` pins nothing).
"""

from __future__ import annotations

import re

DEFAULT_TAG_PATTERN = r"v?\d+\.\d+\.\d+|src-[0-9a-f]{16}"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


def split_reference(image: str) -> tuple[str, str | None, str | None]:
    """``(name, tag, digest)`` of an image reference; tag and digest are None when absent."""
    name, at, digest = image.partition("@")
    tag = None
    head, colon, tail = name.rpartition(":")
    if colon and "/" not in tail:
        name, tag = head, tail
    return name, tag, (digest if at else None)


def image_problem(image: object, tag_pattern: str = DEFAULT_TAG_PATTERN) -> str | None:
    """Why ``image`` is not pinned, ending with what is allowed; None when it is pinned."""
    allowed = f"allowed: a tag matching {tag_pattern} or a digest @sha256:<64 lower-case hex digits>"
    if not isinstance(image, str) or not image.strip():
        return f"is empty; {allowed}"
    name, tag, digest = split_reference(image)
    if not name:
        return f"has no repository name; {allowed}"
    if digest is not None:
        return None if _DIGEST.match(digest) else f"has digest {digest!r}, which pins nothing; {allowed}"
    if tag is None:
        return f"has no tag or digest (Docker pulls :latest); {allowed}"
    if not re.fullmatch(tag_pattern, tag):
        return f"has tag {tag!r}, which is mutable; {allowed}"
    return None


def is_pinned_image(image: str, tag_pattern: str = DEFAULT_TAG_PATTERN) -> bool:
    """True for ``repo:<allowed tag>`` or ``repo@sha256:<64 hex>`` (optionally with a tag before the digest)."""
    return image_problem(image, tag_pattern) is None
