"""Which entities and events the recorder keeps: include/exclude by domain, entity id and glob.

The rules, in order (Home Assistant's recorder, simplified):
1. an entity listed in `exclude.entities` is left out; one listed in `include.entities` is kept;
2. an entity whose domain or id matches `exclude.domains` / `exclude.entity_globs` is left out;
3. with any `include` rule, only entities matching `include.domains` / `include.entity_globs` are kept;
   with none, everything else is kept.
Events: every type but those in `exclude.event_types`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass


def _glob_regex(globs: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [fnmatch.translate(g.lower()) for g in globs]
    return re.compile("|".join(patterns)) if patterns else None


class _Decisions(dict[str, bool]):
    def __init__(self, decide: Callable[[str], bool]) -> None:
        super().__init__()
        self._decide = decide

    def __missing__(self, entity_id: str) -> bool:
        keep = self[entity_id] = self._decide(entity_id)
        return keep


@dataclass
class EntityFilter:
    include_domains: frozenset[str] = frozenset()
    include_entities: frozenset[str] = frozenset()
    include_globs: tuple[str, ...] = ()
    exclude_domains: frozenset[str] = frozenset()
    exclude_entities: frozenset[str] = frozenset()
    exclude_globs: tuple[str, ...] = ()
    exclude_event_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self._include_re = _glob_regex(self.include_globs)
        self._exclude_re = _glob_regex(self.exclude_globs)
        self._has_include = bool(self.include_domains or self.include_globs or self.include_entities)
        # `decisions[entity_id]`: whether to record it, decided once per entity id (the listener's
        # hot path: a dict lookup, no call).
        self.decisions = _Decisions(self._decide)

    @classmethod
    def from_config(cls, include: dict[str, list[str]], exclude: dict[str, list[str]]) -> EntityFilter:
        return cls(
            include_domains=frozenset(include.get("domains", [])),
            include_entities=frozenset(include.get("entities", [])),
            include_globs=tuple(include.get("entity_globs", [])),
            exclude_domains=frozenset(exclude.get("domains", [])),
            exclude_entities=frozenset(exclude.get("entities", [])),
            exclude_globs=tuple(exclude.get("entity_globs", [])),
            exclude_event_types=frozenset(exclude.get("event_types", [])),
        )

    def __call__(self, entity_id: str) -> bool:
        """Whether to record this entity; the answer is cached per entity id."""
        return self.decisions[entity_id]

    def _decide(self, entity_id: str) -> bool:
        if entity_id in self.exclude_entities:
            return False
        if entity_id in self.include_entities:
            return True
        domain = entity_id.partition(".")[0]
        if domain in self.exclude_domains or (self._exclude_re is not None and self._exclude_re.match(entity_id)):
            return False
        if not self._has_include:
            return True
        if domain in self.include_domains:
            return True
        return bool(self._include_re is not None and self._include_re.match(entity_id))

    def keeps_event(self, event_type: str) -> bool:
        return event_type not in self.exclude_event_types
