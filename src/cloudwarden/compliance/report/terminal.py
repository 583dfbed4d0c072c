"""Rich terminal output: progress bars while scanning, then scores per framework and section, the top
failing controls, and drift since the previous scan. Strings from AWS are printed with markup off."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.frameworks.evaluate import ControlEvaluation, Score
from cloudwarden.compliance.report import ReportData
from cloudwarden.compliance.results import severity_rank

STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NOT_EVALUATED: "yellow", Status.MANUAL: "cyan"}


class ScanProgress:
    """Progress bars fed by the runner's ProgressEvent callback (`progress=bars.update`)."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=not self.enabled,
        )
        self.accounts: TaskID | None = None
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> ScanProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.__exit__(et, ev, tb)

    def _task(self, account: str, kind: str, total: int) -> TaskID:
        key = (account, kind)
        if key not in self.tasks:
            label = "collect" if kind == "collect" else "checks "
            self.tasks[key] = self.progress.add_task(f"{account} {label}", total=total or None)
        return self.tasks[key]

    def update(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind == "accounts":
            self.accounts = self.progress.add_task("accounts", total=event.total or None)
        elif kind in ("collect", "checks"):
            t = self._task(event.account_id, kind, event.total)
            self.progress.update(t, completed=event.done, total=event.total or None)
        elif kind in ("account_done", "account_failed"):
            if self.accounts is not None:
                self.progress.advance(self.accounts)
            for k in ("collect", "checks"):
                if (event.account_id, k) in self.tasks:
                    self.progress.remove_task(self.tasks.pop((event.account_id, k)))
            if kind == "account_failed":
                self.console.print(Text(f"account {event.account_id} could not be scanned: {event.label}", style="red"))


def _pct(s: Score) -> str:
    return "-" if s.percent is None else f"{s.percent:.1f}%"


def _score_row(s: Score, name: str, bold: bool = False) -> list[Any]:
    style = "bold" if bold else ""
    return [Text(name, style=style), Text(str(s.passed), style="green"), Text(str(s.failed), style="red"),
            Text(str(s.not_evaluated), style="yellow"), Text(str(s.manual), style="cyan"), Text(_pct(s), style=style)]  # fmt: skip


def top_failures(data: ReportData, limit: int = 10) -> list[tuple[str, ControlEvaluation]]:
    rows = [(ev.framework.id, c) for ev in data.evaluations for c in ev.controls if c.status is Status.FAIL]
    rows.sort(key=lambda fc: (-severity_rank(fc[1].severity), -fc[1].failed, fc[0], fc[1].control.id))
    return rows[:limit]


def print_summary(data: ReportData, console: Console, top: int = 10) -> None:
    scan = data.scan
    c = scan.counts()
    console.print(
        Text.assemble(
            ("Scan ", "bold"), (scan.scan_id[:12], "bold cyan"),
            f"  accounts: {', '.join(scan.accounts) or '-'}  regions: {len(scan.regions)}  results: {len(scan.results)} ",
            (f"{c[Status.PASS]} pass ", "green"), (f"{c[Status.FAIL]} fail ", "red"),
            (f"{c[Status.NOT_EVALUATED]} not evaluated", "yellow"),
        )
    )
    for err in scan.errors:
        console.print(Text(f"error: {err}", style="red"))
    if scan.failure_counts:
        parts = ", ".join(f"{n} {code}" for code, n in sorted(scan.failure_counts.items(), key=lambda kv: -kv[1]))
        console.print(Text(f"collection failures (their checks are NOT_EVALUATED): {parts}", style="yellow"))
    for ev in data.evaluations:
        t = Table(title=f"{ev.framework.name}", title_justify="left", show_lines=False)
        for col in ("Section", "Pass", "Fail", "Not evaluated", "Manual", "Score"):
            t.add_column(col, justify="left" if col == "Section" else "right")
        for s in ev.sections:
            t.add_row(*_score_row(s, f"{s.id} {s.name}"))
        t.add_row(*_score_row(ev.total, "Total", bold=True))
        console.print(t)
    fails = top_failures(data, top)
    if fails:
        t = Table(title="Top failing controls", title_justify="left")
        for col in ("Framework", "Control", "Severity", "Failing", "Title"):
            t.add_column(col)
        for fid, ce in fails:
            t.add_row(fid, ce.control.id, ce.severity, str(ce.failed), Text(ce.control.title))
        console.print(t)
    if data.drift is not None:
        d = data.drift.summary()
        console.print(
            Text.assemble(
                ("Since previous scan ", "bold"), (str(data.drift.previous_id)[:12], "cyan"), ": ",
                (f"{d['new_failures']} new failures", "red"), ", ", (f"{d['fixed']} fixed", "green"), ", ",
                f"{d['resources_added']} resources added, {d['resources_removed']} removed",
            )
        )
