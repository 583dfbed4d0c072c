"""The alert grouping window: how far apart firings of one rule, principal and account may be and still
join one alert. One default (`alerts.group_window_minutes`) with optional windows per severity
(`[alerts.group_window_by_severity]`) and per rule (`[alerts.group_window_by_rule]`, which wins), so noisy
low-severity rules can group by the day while a trail being stopped still makes a new alert within the hour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

DEFAULT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class GroupWindow:
    default: timedelta = DEFAULT_WINDOW
    by_rule: Mapping[str, timedelta] = field(default_factory=dict)
    by_severity: Mapping[str, timedelta] = field(default_factory=dict)

    def for_alert(self, rule_id: str, severity: str) -> timedelta:
        """The rule's own window, else its severity's, else the default."""
        got = self.by_rule.get(rule_id)
        if got is None:
            got = self.by_severity.get(severity, self.default)
        return got

    @property
    def uniform(self) -> bool:
        """Every alert groups with the default (the fast path of hot loops)."""
        return not self.by_rule and not self.by_severity

    @property
    def widest(self) -> timedelta:
        """The longest window of any alert: a bound for which stored alerts any firing could join."""
        return max([self.default, *self.by_rule.values(), *self.by_severity.values()])


WindowSpec = timedelta | GroupWindow


def as_group_window(window: WindowSpec | None) -> GroupWindow:
    """A plain timedelta is the window of every rule; None is the default."""
    if window is None:
        return GroupWindow()
    if isinstance(window, GroupWindow):
        return window
    return GroupWindow(window)
