"""What every event source looks like to the agent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cloudwarden.models.host_event import HostEvent

Emit = Callable[[HostEvent], None]


@dataclass
class SourceStats:
    events: int = 0
    errors: int = 0
    lost: int = 0  # the kernel or the source itself reported losing events
    incomplete: int = 0  # e.g. exec seen but argv missed
    last_error: str = ""
    extra: dict[str, int] = field(default_factory=dict)


class Source:
    """A source: `probe()` says whether it can run here (and why not); `run()` loops until `stop` is set."""

    name = "source"
    kinds: tuple[str, ...] = ()  # HostEvent kinds it produces

    def __init__(self) -> None:
        self.stats = SourceStats()
        self.ready = threading.Event()  # set once the source is capturing (rules loaded, sockets bound)

    def probe(self) -> str | None:
        """None when usable, else the reason it is not."""
        return None

    def run(self, emit: Emit, stop: threading.Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Undo anything done to the system (audit rules, audit pid). Must be safe to call twice."""
