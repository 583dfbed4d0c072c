"""The alert grouping window: how far apart firings of one rule, principal and account may be and still
join one alert. One default (`alerts.group_window_minutes`) with optional per-rule windows
(`[alerts.group_window_by_rule]`), so a noisy low-severity rule can group by the day while a trail being
stopped still makes a new alert within the hour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

DEFAULT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class GroupWindow:
    default: timedelta = DEFAULT_WINDOW
    by_rule: Mapping[str, timedelta] = field(default_factory=dict)

    def for_rule(self, rule_id: str) -> timedelta:
        return self.by_rule.get(rule_id, self.default)

    @property
    def widest(self) -> timedelta:
        """The longest window of any rule: a bound for which stored alerts any firing could join."""
        return max([self.default, *self.by_rule.values()])


WindowSpec = timedelta | GroupWindow


def as_group_window(window: WindowSpec | None) -> GroupWindow:
    """A plain timedelta is the window of every rule; None is the default."""
    if window is None:
        return GroupWindow()
    if isinstance(window, GroupWindow):
        return window
    return GroupWindow(window)
