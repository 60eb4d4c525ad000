"""A policy violation as every caller reports it: plan (offline pack run) and the Automation API (engine events)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    type: str
    name: str
    message: str
    urn: str = ""
    pack: str = ""

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    def as_dict(self) -> dict[str, str]:
        """The plan JSON form: ``{policy, level, type, name, message}``."""
        return {"policy": self.policy, "level": self.level, "type": self.type, "name": self.name,
                "message": self.message}
