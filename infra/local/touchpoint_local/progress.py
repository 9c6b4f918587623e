"""Progress for long command-line work (the demo's phases, drains, rebuild), drawn by rich.

On a terminal: a live bar per phase (description, bar, done/total, elapsed) that replaces itself.
Elsewhere (CI logs, a pipe): a line when a phase starts and at every tenth of it, so a 40-minute
run still says where it is.
"""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class Reporter(Protocol):
    """What long work tells the person waiting."""

    def say(self, line: str) -> None: ...

    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...

    def done(self) -> None: ...


class Silent:
    """For benchmarks and tests: nothing printed."""

    def say(self, line: str) -> None:
        pass

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


class ConsoleReporter:
    """Phases with a live bar on a terminal, milestone lines elsewhere (stderr by default, so the
    command's own output stays clean to pipe)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._live = self.console.is_terminal
        self._progress: Progress | None = None
        self._task: int | None = None
        self._name, self._total, self._count, self._next_mark, self._started = "", None, 0, 0, 0.0

    def say(self, line: str) -> None:
        self.console.print(line, markup=False)

    def phase(self, name: str, total: int | None = None) -> None:
        self.done()
        self._name, self._total, self._count, self._started = name, total, 0, time.perf_counter()
        if self._live:
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                                      transient=True)
            self._progress.start()
            self._task = self._progress.add_task(name, total=total)
        else:
            self.console.print(f"  {name}" + (f" ({total:,})" if total else "") + " ...", markup=False)
            self._next_mark = _tenth(total, 1)

    def advance(self, amount: int = 1) -> None:
        self._count += amount
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)
        elif self._total and self._count >= self._next_mark:
            tenth = min(10, self._count * 10 // self._total)
            self.console.print(f"    {self._count:,}/{self._total:,} ({tenth * 10} %) "
                               f"{time.perf_counter() - self._started:.0f} s", markup=False)
            self._next_mark = _tenth(self._total, tenth + 1)

    def done(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress, self._task = None, None
            total = f" {self._count:,}" if self._total else ""
            self.console.print(f"  {self._name}{total} · {time.perf_counter() - self._started:.1f} s", markup=False)
        self._name, self._total = "", None


def _tenth(total: int | None, tenth: int) -> int:
    return max(1, -(-(total or 0) * tenth // 10))
