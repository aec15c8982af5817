"""Apply association rules to frames: the result says which level matched and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import median
from typing import Any

from hcdc_kernel.association.rules import LEVEL_NAMES, AssociationRule, MatchKey


@dataclass(frozen=True)
class Frame:
    """What association needs to know of a data file."""

    id: int
    frame_type: str
    path: str = ""
    date_obs: datetime | None = None
    obs_night: date | None = None
    dit: float | None = None
    instrument_filter: str | None = None
    readout_mode: str | None = None
    obs_id: int | None = None
    object: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def value(self, key: MatchKey) -> Any:
        raw = getattr(self, key.field) if hasattr(self, key.field) else self.extra.get(key.field)
        if raw is not None and key.step is not None:
            return round(round(float(raw) / key.step) * key.step, 6)
        return raw


@dataclass(frozen=True)
class SlotMatch:
    """Frames chosen for one SOF tag, the EDPS level of the match and a readable reason."""

    tag: str
    frames: tuple[Frame, ...]
    level: int | None
    reason: str
    required: bool = True
    overridden: bool = False

    @property
    def found(self) -> bool:
        return bool(self.frames)


@dataclass(frozen=True)
class AssociationResult:
    """Inputs for one run: the primary frames and one match per calibration slot."""

    recipe: str
    primary_tag: str | None
    primary: tuple[Frame, ...]
    slots: tuple[SlotMatch, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Required calibration slots that nothing matched."""
        return tuple(s.tag for s in self.slots if s.required and not s.found)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def level(self) -> int | None:
        """The worst (highest) level among the matched calibrations."""
        levels = [s.level for s in self.slots if s.level is not None]
        return max(levels) if levels else None


def _reference_time(frames: Sequence[Frame]) -> datetime | None:
    times = [f.date_obs for f in frames if f.date_obs is not None]
    if not times:
        return None
    stamps = sorted(t.timestamp() for t in times)
    middle = median(stamps)
    return min(times, key=lambda t: abs(t.timestamp() - middle))


def _reference_night(frames: Sequence[Frame]) -> date | None:
    nights = sorted(f.obs_night for f in frames if f.obs_night is not None)
    return nights[len(nights) // 2] if nights else None


def _level(candidate: Frame, night: date | None, window_days: float) -> int:
    if night is None or candidate.obs_night is None:
        return 3
    gap = abs((candidate.obs_night - night).days)
    if gap == 0:
        return 0
    if gap <= 1:
        return 1
    if gap <= window_days:
        return 2
    return 3


def _describe_keys(keys: Sequence[MatchKey], values: Mapping[str, Any]) -> str:
    parts = []
    for key in keys:
        value = values.get(key.name)
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        parts.append(f"{key.name}={shown}")
    return ", ".join(parts)


def match_slot(
    rule: AssociationRule, primary: Sequence[Frame], candidates: Sequence[Frame]
) -> SlotMatch:
    """Choose the frames of one calibration slot for the ``primary`` frames."""
    kinds = "/".join(rule.frame_types)
    if not primary:
        return SlotMatch(rule.tag, (), None, "no primary frames to match", rule.required)
    reference = primary[0]
    wanted = {key.name: reference.value(key) for key in rule.match}
    keys_text = _describe_keys(rule.match, wanted)
    with_keys = f" with {keys_text}" if keys_text else ""
    pool = [
        c
        for c in candidates
        if c.frame_type in rule.frame_types
        and all(c.value(key) == wanted[key.name] for key in rule.match)
    ]
    if not pool:
        return SlotMatch(rule.tag, (), None, f"no {kinds}{with_keys} at any time", rule.required)
    night = _reference_night(primary)
    when = _reference_time(primary)
    graded = [(_level(c, night, rule.window_days), c) for c in pool]
    best = min(level for level, _ in graded)
    if best > rule.max_level:
        return SlotMatch(
            rule.tag,
            (),
            None,
            f"{len(pool)} {kinds}{with_keys}, none {LEVEL_NAMES[rule.max_level]} "
            f"(best: level {best}, {LEVEL_NAMES[best]})",
            rule.required,
        )
    at_level = [c for level, c in graded if level == best]

    def distance(frame: Frame) -> float:
        if when is None or frame.date_obs is None:
            return float("inf")
        return abs((frame.date_obs - when).total_seconds())

    at_level.sort(key=lambda f: (distance(f), f.id))
    if rule.select == "closest_night":
        closest_night = at_level[0].obs_night
        chosen = [f for f in at_level if f.obs_night == closest_night]
        if rule.count is not None:
            chosen = chosen[: rule.count]
    else:
        chosen = at_level[: rule.count or len(at_level)]
    gap = distance(chosen[0])
    gap_text = "" if gap == float("inf") else f", closest {gap / 3600:.1f} h away"
    name = (
        LEVEL_NAMES[best].replace("N", f"{rule.window_days:g}") if best == 2 else LEVEL_NAMES[best]
    )
    reason = f"level {best} ({name}): {len(chosen)} {kinds}{with_keys}{gap_text}"
    return SlotMatch(rule.tag, tuple(chosen), best, reason, rule.required)


def associate(
    recipe: str,
    primary: Sequence[Frame],
    candidates: Sequence[Frame],
    rules: Sequence[AssociationRule],
    *,
    primary_tag: str | None = None,
) -> AssociationResult:
    """Match every calibration rule of a recipe against ``candidates``."""
    return AssociationResult(
        recipe=recipe,
        primary_tag=primary_tag,
        primary=tuple(primary),
        slots=tuple(match_slot(rule, primary, candidates) for rule in rules),
    )


def group_primary(frames: Sequence[Frame], keys: Sequence[MatchKey]) -> list[tuple[Frame, ...]]:
    """Split primary frames into runs: same night and equal values of ``keys``."""
    groups: dict[tuple[Any, ...], list[Frame]] = {}
    for frame in frames:
        signature = (frame.obs_night, *(frame.value(k) for k in keys))
        groups.setdefault(signature, []).append(frame)
    ordered = sorted(groups.values(), key=lambda g: min(f.id for f in g))
    return [tuple(sorted(g, key=lambda f: f.id)) for g in ordered]
