"""Suite progress: which run of how many, elapsed time, and an ETA from the runs finished so far."""
import re
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

ITER_RE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]')
ETA_RE = re.compile(r'\beta:\s*(\S+)')


def format_duration(seconds: Optional[float]) -> str:
    """``83`` -> ``'1m23s'``; None -> ``'?'``."""
    if seconds is None:
        return '?'
    seconds = int(round(max(seconds, 0)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f'{h}h{m:02d}m{s:02d}s' if h else (f'{m}m{s:02d}s' if m else f'{s}s')


def parse_train_line(line: str) -> Optional[tuple]:
    """``(iteration, max_iters, eta or None)`` from an mmengine training log line, else None."""
    match = ITER_RE.search(line)
    if not match:
        return None
    eta = ETA_RE.search(line)
    return int(match.group(1)), int(match.group(2)), eta.group(1) if eta else None


@dataclass
class Work:
    """A planned unit of work: a label, the training iterations it still needs (0: evaluation only)."""
    label: str
    role: str
    iters: int = 0
    evaluate: bool = True


class Progress:
    """Prints ``[k/N]`` start/finish lines with elapsed time and a suite ETA.

    The ETA uses the seconds per training iteration measured on the runs that trained (per role: teachers are
    slower than students) and the mean evaluation time, applied to the work still planned.
    """

    def __init__(self,
                 plan: List[Work],
                 log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.plan, self.log, self.clock = list(plan), log, clock
        self.total = len(plan)
        self.index = 0
        self.start_time = clock()
        self.rates: Dict[str, List[float]] = {}
        self.eval_times: List[float] = []
        self._current: Optional[Work] = None
        self._t0 = 0.0
        self._last_iter = -1

    # ------------------------------------------------------------------------- estimates
    def _rate(self, role: str) -> Optional[float]:
        rates = self.rates.get(role) or [r for rs in self.rates.values() for r in rs]
        return sum(rates) / len(rates) if rates else None

    def eta(self) -> Optional[float]:
        """Seconds left for the planned work after the current unit; None until one unit has trained."""
        total = 0.0
        for work in self.plan:
            if work.iters:
                rate = self._rate(work.role)
                if rate is None:
                    return None
                total += rate * work.iters
            if work.evaluate and self.eval_times:
                total += sum(self.eval_times) / len(self.eval_times)
        return total

    # ------------------------------------------------------------------------- events
    def start(self, label: str) -> None:
        """Begin the next planned unit (matched by label)."""
        self.index += 1
        idx = next((i for i, w in enumerate(self.plan) if w.label == label), None)
        self._current = self.plan.pop(idx) if idx is not None else Work(label, 'method')
        self._t0 = self.clock()
        self._last_iter = -1
        self.log(f'[{self.index}/{self.total}] {label}: started')

    def skip(self, label: str, why: str) -> None:
        """A unit that needs nothing (finished earlier)."""
        self.index += 1
        idx = next((i for i, w in enumerate(self.plan) if w.label == label), None)
        if idx is not None:
            self.plan.pop(idx)
        self.log(f'[{self.index}/{self.total}] {label}: skipped ({why})')

    def on_line(self, line: str) -> None:
        """A line of the child's output; training iterations are echoed at the child's log interval."""
        parsed = parse_train_line(line)
        if parsed is None or self._current is None or parsed[0] == self._last_iter:
            return
        it, total, eta = parsed
        self._last_iter = it
        self.log(f'    {self._current.label}: iter {it}/{total} ({100 * it // max(total, 1)}%), '
                 f'run eta {eta or "?"}, elapsed {format_duration(self.clock() - self._t0)}')

    def record(self,
               trained_iters: int = 0,
               train_seconds: float = 0.0,
               eval_seconds: Optional[float] = None) -> None:
        """Measurements of the current unit, for the ETA."""
        role = self._current.role if self._current else 'method'
        if trained_iters > 0 and train_seconds > 0:
            self.rates.setdefault(role, []).append(train_seconds / trained_iters)
        if eval_seconds is not None:
            self.eval_times.append(eval_seconds)

    def finish(self, ok: bool = True, detail: str = '') -> None:
        label = self._current.label if self._current else '?'
        elapsed = self.clock() - self._t0
        eta = self.eta()
        self.log(
            f'[{self.index}/{self.total}] {label}: {"done" if ok else "FAILED"} in {format_duration(elapsed)}'
            f'{" (" + detail + ")" if detail else ""}; '
            f'suite elapsed {format_duration(self.clock() - self.start_time)}'
            f', ETA {format_duration(eta)}' + ('' if eta is not None else ' (after the first trained run)'))
        self._current = None
