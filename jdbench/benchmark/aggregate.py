"""Aggregation: runs over seeds into a ranked :class:`Leaderboard`, Δm against single-task references, paired
per-seed differences, and cost summaries.

Pure arithmetic on :class:`~.records.RunRecord` lists (:mod:`.collect` finds the runs, :mod:`.render` prints
the board). Conventions:

* a cell is ``mean ± std`` over the seeds of a method, ``std`` the sample standard deviation (``ddof=1``);
  one seed shows the mean alone;
* Δm is computed per seed against the *mean* of the reference models' seeds, then averaged like any metric;
* "best" is direction-aware (:data:`~jdbench.evaluation.functional.METRIC_DIRECTIONS`; Δm higher, cost lower)
  and taken over the students (teacher rows are shown but not marked);
* a method with fewer finished seeds than expected is kept and marked incomplete;
* paired comparisons (:meth:`Leaderboard.add_paired`) give, per method, the per-seed Δm differences to a
  baseline, a Student-t interval for their mean at ``level`` (default 95%) and an exact two-sided sign test;
  a method is *separated* from the baseline when the interval excludes 0;
* the teacher check (``teacher_margin``) warns when a teacher is not ahead of its single-task reference.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from jdbench.evaluation.functional import METRIC_DIRECTIONS, delta_m
from .records import (ALIASES, ALL_METRIC_COLUMNS, COST_COLUMNS, DEFAULT_DM_METRICS, METRIC_COLUMNS,
                      TRAIN_TIME_COLUMN, Column, RunRecord, Stat, delta_m_column, mean_std, metric_columns)

#: The default confidence level of the intervals (paired differences, the chart's error bars).
DEFAULT_LEVEL = 0.95
#: The suite's default teacher check: a teacher must beat its single-task reference by 5% on each metric.
DEFAULT_TEACHER_MARGIN = dict(relative=0.05)


# ------------------------------------------------------------------------------------------------ statistics
def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with a whole number ``df`` of degrees of freedom.

    Exact finite series (Abramowitz & Stegun 26.7.3 / 26.7.4) in θ = atan(|t| / √df).
    """
    if int(df) != df or df < 1:
        raise ValueError(f'degrees of freedom must be a whole number >= 1, got {df}')
    df = int(df)
    theta = math.atan(abs(t) / math.sqrt(df))
    cos2 = math.cos(theta)**2
    if df % 2:  # A = 2/π (θ + sinθ (cosθ + 2/3 cos³θ + ... + (2·4···(df−3))/(1·3···(df−2)) cos^(df−2)θ))
        series = term = math.cos(theta) if df > 1 else 0.0
        for k in range(2, df - 1, 2):
            term *= cos2 * k / (k + 1)
            series += term
        a = 2.0 / math.pi * (theta + math.sin(theta) * series)
    else:  # A = sinθ (1 + 1/2 cos²θ + ... + (1·3···(df−3))/(2·4···(df−2)) cos^(df−2)θ)
        series = term = 1.0
        for k in range(1, df - 2, 2):
            term *= cos2 * k / (k + 1)
            series += term
        a = math.sin(theta) * series
    a = min(a, 1.0)
    return 0.5 + 0.5 * a if t >= 0 else 0.5 - 0.5 * a


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f'a quantile needs 0 < p < 1, got {p}')
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return 0.5 * (lo + hi)


def check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f'confidence level must be between 0 and 1 (e.g. 0.95), got {level}')
    return level


def half_width(stat: Stat, level: float = DEFAULT_LEVEL) -> Optional[float]:
    """Half-width of the Student-t interval for the mean, ``t_{(1+level)/2, n−1} · s / √n`` (None: n < 2)."""
    if stat.std is None or stat.n < 2:
        return None
    return t_quantile(0.5 + 0.5 * check_level(level), stat.n - 1) * stat.std / math.sqrt(stat.n)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign-test p-value of ``wins`` against ``losses`` (ties left out beforehand):
    ``min(1, 2 · P(X <= min(wins, losses)))``, X ~ Binomial(wins + losses, 1/2); 1 when there is no pair."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1))
    return min(1.0, 2.0 * tail / 2.0**n)


@dataclass
class Reference:
    """A resolved Δm reference: a value per metric, and which model (and how many seeds) it came from."""
    name: str
    values: Dict[str, float]
    sources: Dict[str, Tuple[str, int]]
    column: Column


@dataclass
class Row:
    """One method: its seeds, aggregated columns, rank and best marks."""
    method: str
    role: str
    seeds: List[Optional[int]]
    expected: int
    values: Dict[str, Stat] = field(default_factory=dict)
    partial: Set[str] = field(default_factory=set)  # columns averaged over fewer seeds than the row has
    best: Set[str] = field(default_factory=set)
    rank: Optional[int] = None

    @property
    def complete(self) -> bool:
        return len(self.seeds) >= self.expected

    @property
    def seeds_cell(self) -> str:
        return str(len(self.seeds)) if self.complete else f'{len(self.seeds)}/{self.expected} incomplete'


class Leaderboard:
    """Rows × columns with the Δm references and notes; rows are marked best and ranked by a column."""

    def __init__(self,
                 rows: List[Row],
                 columns: List[Column],
                 references: List[Reference],
                 dm_metrics: List[str],
                 notes: List[str],
                 extra_columns: Sequence[Column] = (),
                 runs: Sequence[RunRecord] = (),
                 level: float = DEFAULT_LEVEL) -> None:
        self.rows, self.columns, self.references = rows, columns, references
        self.dm_metrics, self.notes = dm_metrics, notes
        self.extra_columns = list(extra_columns)  # chart, page and JSON only: the tables keep their columns
        self.runs = list(runs)
        self.level = check_level(level)
        self.paired: List['PairedComparison'] = []
        self.warnings: List[str] = []  # the footer (e.g. the teacher check)
        self.sort_by: Optional[Column] = None
        self.mark_best()

    def column(self, name: str) -> Column:
        """A column by key, title (with or without arrow) or alias, case-insensitively."""
        wanted = ALIASES.get(name, ALIASES.get(name.lower(), name))
        for col in self.columns + self.extra_columns:
            if wanted.lower() in (col.key.lower(), col.title.lower(), col.header.lower()):
                return col
        valid = ', '.join(c.key for c in self.columns + self.extra_columns)
        known = {c.key for c in METRIC_COLUMNS + COST_COLUMNS} | {'delta_m', TRAIN_TIME_COLUMN.key}
        if wanted in known or wanted.startswith('delta_m'):
            why = 'no run on this leaderboard has it'
        elif wanted in {c.key for c in ALL_METRIC_COLUMNS}:
            why = 'not among the metric columns shown: add it to the leaderboard metrics (--metrics)'
        else:
            why = 'unknown column'
        raise ValueError(f'cannot sort by {name!r} ({why}); choose one of: {valid}')

    def mark_best(self) -> None:
        """Mark the best mean of each column over the students (direction-aware; ties all marked)."""
        contenders = [r for r in self.rows if r.role != 'teacher'] or self.rows
        for row in self.rows:
            row.best = set()
        for col in self.columns:
            vals = [
                r.values[col.key].mean for r in contenders
                if col.key in r.values and math.isfinite(r.values[col.key].mean)
            ]
            if not vals:
                continue
            best = max(vals) if col.direction > 0 else min(vals)
            for r in contenders:
                if col.key in r.values and r.values[col.key].mean == best:
                    r.best.add(col.key)

    def sort(self, by: Optional[str] = None) -> None:
        """Order rows best-first by a column (rows without it last), and rank them (ties share a rank)."""
        if by is None:
            keys = [c.key for c in self.columns]
            by = 'delta_m' if 'delta_m' in keys else next(
                (c.key for c in self.columns if c.key in {m.key for m in ALL_METRIC_COLUMNS}), None)
        if by is None:
            return
        col = self.column(by)
        self.sort_by = col

        def key(row: Row):
            stat = row.values.get(col.key)
            if stat is None or not math.isfinite(stat.mean):
                return (1, 0.0)
            return (0, -col.direction * stat.mean)

        self.rows.sort(key=key)  # stable: equal rows keep their order
        rank, prev = 0, None
        for i, row in enumerate(self.rows):
            k = key(row)
            if k[0] == 1:
                row.rank = None
                continue
            if k != prev:
                rank, prev = i + 1, k
            row.rank = rank

    def add_paired(self, baseline: str) -> 'PairedComparison':
        """Compare every method with ``baseline`` seed by seed (Δm vs the first reference), at ``self.level``.

        Raises:
            ValueError: without a Δm reference, or when ``baseline`` has no usable run.
        """
        if not self.references:
            raise ValueError('a paired comparison needs a Δm reference (--reference stl=stl_seg,stl_depth)')
        ref = self.references[0]
        comparison = PairedComparison(baseline, ref, self.level, paired_deltas(self.runs, ref, baseline))
        self.paired.append(comparison)
        return comparison


# ------------------------------------------------------------------------------------------------ building
def _group(runs: Sequence[RunRecord]) -> Dict[str, List[RunRecord]]:
    groups: Dict[str, List[RunRecord]] = {}
    for run in runs:
        groups.setdefault(run.method, []).append(run)
    return groups


def resolve_reference(name: str, methods: Sequence[str], groups: Mapping[str, List[RunRecord]],
                      dm_metrics: Sequence[str], primary: bool, notes: List[str]) -> Optional[Reference]:
    """Reference value of each Δm metric: the seed mean of the first listed model that has the metric."""
    values, sources = {}, {}
    absent = [m for m in methods if not any(r.metrics for r in groups.get(m, []))]
    if absent:
        notes.append(f'Δm reference {name!r}: no results for {", ".join(absent)}.')
    for metric in dm_metrics:
        for method in methods:
            vals = [r.metrics[metric] for r in groups.get(method, []) if r.metrics and metric in r.metrics]
            vals = [v for v in vals if math.isfinite(v)]
            if vals:
                values[metric] = mean_std(vals).mean
                sources[metric] = (method, len(vals))
                break
    lost = [m for m in dm_metrics if m not in values]
    if not values:
        notes.append(
            f'Δm vs {name!r} not computed: none of {", ".join(methods)} has {", ".join(dm_metrics)}.')
        return None
    if lost:
        notes.append(f'Δm vs {name!r} leaves out {", ".join(lost)}: no reference model has it.')
    zero = [m for m, v in values.items() if v == 0]
    for m in zero:  # a zero reference makes the relative gain undefined
        notes.append(f'Δm vs {name!r} leaves out {m}: the reference value is 0.')
        values.pop(m)
        sources.pop(m)
    if not values:
        return None
    return Reference(name, values, sources, delta_m_column(name, primary))


def _check_metric_sets(method: str, runs: List[RunRecord], keys: Sequence[str], notes: List[str]) -> None:
    have = [r for r in runs if r.metrics]
    union = {k for r in have for k in r.metrics if k in keys}
    for r in have:
        lacks = sorted(union - set(r.metrics), key=list(keys).index)
        if lacks:
            notes.append(
                f'{method} seed {r.seed}: different metric set, lacks {", ".join(lacks)}; those columns '
                'average the other seeds (marked †).')


def _aggregate(row: Row, runs: List[RunRecord], keys: Sequence[str]) -> None:
    have = [r for r in runs if r.metrics]
    for key in keys:
        vals = [float(r.metrics[key]) for r in have if key in r.metrics]
        vals = [v for v in vals if not math.isnan(v)]
        if vals:
            row.values[key] = mean_std(vals)
            if len(vals) < len(have):
                row.partial.add(key)


def _delta_m(row: Row, runs: List[RunRecord], ref: Reference) -> None:
    have = [r for r in runs if r.metrics]
    vals = [delta_m(r.metrics, ref.values) for r in have if all(k in r.metrics for k in ref.values)]
    if vals:
        row.values[ref.column.key] = mean_std(vals)
        if len(vals) < len(have):
            row.partial.add(ref.column.key)


def build_leaderboard(runs: Sequence[RunRecord],
                      costs: Optional[Mapping[str, Mapping[str, float]]] = None,
                      references: Optional[Mapping[str, Sequence[str]]] = None,
                      dm_metrics: Sequence[str] = DEFAULT_DM_METRICS,
                      expected_seeds: Optional[Mapping[str, int]] = None,
                      sort_by: Optional[str] = None,
                      notes: Optional[Sequence[str]] = None,
                      level: float = DEFAULT_LEVEL,
                      teacher_margin: Optional[Mapping] = None,
                      metrics: Optional[Sequence[str]] = None) -> Leaderboard:
    """Aggregate runs into a ranked :class:`Leaderboard`.

    Args:
        runs: one record per (method, seed); records without metrics count as unfinished seeds.
        costs: method -> ``{'params': ..., 'flops': ..., 'latency': ...}`` (see :func:`cost_summary`).
        references: Δm reference sets, name -> model names, e.g. ``{'stl': ['stl_seg', 'stl_depth']}``; the
            first set gives the ``delta_m`` column, the others ``delta_m@<name>``.
        dm_metrics: metrics Δm averages over.
        expected_seeds: method -> number of seeds that should exist (default: the records seen).
        sort_by: a column key, title or alias (default: Δm when there is one, else the first metric column).
        notes: extra lines to print under the table.
        level: confidence level of the intervals (paired comparisons, chart error bars).
        teacher_margin: e.g. ``dict(relative=0.05)``: warn in the footer when a teacher is not that much
            better than its single-task reference on each of its Δm metrics (:func:`check_teachers`); None: no
            check.
        metrics: the metric columns, in order (keys or aliases of :data:`~.records.ALL_METRIC_COLUMNS`, e.g.
            ``['abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3']``); None: the default
            :data:`~.records.METRIC_COLUMNS` (mIoU, pixel acc, abs err, rel err, δ1). Either way a column is
            shown when at least one row has the metric.
    """
    unknown = [m for m in dm_metrics if m not in METRIC_DIRECTIONS]
    if unknown:
        raise ValueError(f'unknown Δm metric(s) {unknown}; known: {sorted(METRIC_DIRECTIONS)}')
    if not runs:
        raise ValueError('no runs to put on the leaderboard')
    notes = list(notes or [])
    groups = _group(runs)
    shown = metric_columns(metrics)
    metric_keys = [c.key for c in shown]
    refs: List[Reference] = []
    for i, (name, methods) in enumerate((references or {}).items()):
        ref = resolve_reference(name, list(methods), groups, dm_metrics, i == 0, notes)
        if ref is not None:
            refs.append(ref)
    rows = []
    for method, mruns in groups.items():
        have = [r for r in mruns if r.metrics]
        expected = max((expected_seeds or {}).get(method, 0), len(mruns), 1)
        row = Row(method, mruns[0].role, [r.seed for r in have], expected)
        _check_metric_sets(method, mruns, metric_keys, notes)
        _aggregate(row, mruns, metric_keys)
        for ref in refs:
            _delta_m(row, mruns, ref)
        for key, value in ((costs or {}).get(method) or {}).items():
            if key in {c.key for c in COST_COLUMNS + (TRAIN_TIME_COLUMN, )} and value is not None and \
                    math.isfinite(float(value)):
                row.values[key] = Stat(float(value), None, 1)
        rows.append(row)
    present = {k for row in rows for k in row.values}
    columns = [c for c in shown if c.key in present] + [r.column for r in refs] + \
        [c for c in COST_COLUMNS if c.key in present]
    extra = [TRAIN_TIME_COLUMN] if TRAIN_TIME_COLUMN.key in present else []
    board = Leaderboard(rows, columns, refs, list(dm_metrics), notes, extra, runs, level)
    board.sort(sort_by)
    if teacher_margin is not None:
        board.warnings += check_teachers(board, teacher_margin)
    return board


# ------------------------------------------------------------------------------------------- teacher check
def margin_value(margin: Optional[Mapping]) -> Optional[float]:
    """The relative margin of a ``teacher_margin`` setting (``dict(relative=0.05)``; None: no check)."""
    if margin is None:
        return None
    if not isinstance(margin, Mapping) or set(margin) != {'relative'}:
        raise ValueError('teacher_margin must be dict(relative=FRACTION), e.g. dict(relative=0.05), or None; '
                         f'got {margin!r}')
    value = float(margin['relative'])
    if not math.isfinite(value) or value < 0:
        raise ValueError(f'teacher_margin.relative must be a fraction >= 0 (0.05 = 5%), got {value}')
    return value


def check_teachers(board: Leaderboard, margin: Mapping) -> List[str]:
    """Footer warnings for teachers that are not ahead of their single-task reference by ``margin``.

    Each teacher is compared on each of its Δm metrics with the model the references take that metric from
    (e.g. ``teacher_depth`` vs ``stl_depth`` on ``abs_err`` and ``rel_err``; seed means), skipping teachers as
    sources. It must be better by at least ``margin['relative']`` (a fraction of the reference value) in the
    metric's direction.
    """
    relative = margin_value(margin)
    roles = {row.method: row.role for row in board.rows}
    lines = []
    for row in board.rows:
        if row.role != 'teacher':
            continue
        short, checked = [], []
        for metric in board.dm_metrics:
            if metric not in row.values or not math.isfinite(row.values[metric].mean):
                continue
            source = next(((ref.sources[metric][0], ref.values[metric]) for ref in board.references
                           if metric in ref.values and roles.get(ref.sources[metric][0]) != 'teacher'), None)
            if source is None:
                continue
            mine, (name, value) = row.values[metric].mean, source
            gain = METRIC_DIRECTIONS[metric] * (mine - value) / abs(value)
            checked.append(metric)
            if gain < relative:
                short.append(f'{metric} {mine:.4g} vs {value:.4g} ({name}): '
                             f'{abs(gain) * 100:.1f}% {"better" if gain >= 0 else "worse"}')
        if short:
            lines.append(
                f'WARNING: teacher {row.method} is not ahead of its single-task reference by the margin '
                f'({relative * 100:g}% on each metric, in its direction): {"; ".join(short)}. A student '
                'distilled from it can learn little from it: train it longer, on more data or larger (the '
                'suite\'s `teachers`, `max_iters.teacher`), or change `teacher_margin`.')
        elif not checked and any(m in row.values for m in board.dm_metrics):
            lines.append(f'WARNING: teacher {row.method} not checked against a single-task reference: no '
                         'reference model other than a teacher has its metrics.')
    return lines


# ------------------------------------------------------------------------------------------------ paired
@dataclass
class Paired:
    """One method against a baseline, seed by seed: ``diffs[seed] = Δm(method) − Δm(baseline)``."""
    method: str
    diffs: Dict[int, float]

    @property
    def stat(self) -> Stat:
        return mean_std(list(self.diffs.values()))

    @property
    def wins(self) -> int:
        return sum(d > 0 for d in self.diffs.values())

    @property
    def losses(self) -> int:
        return sum(d < 0 for d in self.diffs.values())

    @property
    def sign_p(self) -> float:
        """Exact two-sided sign-test p-value (seeds with a zero difference left out)."""
        return sign_test(self.wins, self.losses)

    def interval(self, level: float = DEFAULT_LEVEL) -> Optional[Tuple[float, float]]:
        """Student-t interval of the mean difference (None with one seed)."""
        stat = self.stat
        h = half_width(stat, level)
        return None if h is None else (stat.mean - h, stat.mean + h)

    def separated(self, level: float = DEFAULT_LEVEL) -> bool:
        """The interval excludes 0."""
        iv = self.interval(level)
        return iv is not None and (iv[0] > 0 or iv[1] < 0)


@dataclass
class PairedComparison:
    """Every method against ``baseline`` at a confidence ``level`` (see :meth:`Leaderboard.add_paired`)."""
    baseline: str
    reference: Reference
    level: float
    pairs: List[Paired]


def paired_deltas(runs: Sequence[RunRecord], reference: Reference, baseline: str) -> List[Paired]:
    """Δm differences to ``baseline`` on the seeds both have, for every method (references and teachers left out).

    Runs with the same seed share the student's initialisation and the data order, so the per-seed difference
    removes most of the seed-to-seed spread that the leaderboard's mean ± std carries.
    """
    groups = _group(runs)
    if baseline not in groups:
        raise ValueError(f'paired comparison: no runs of {baseline!r}; methods: {sorted(groups)}')

    def per_seed(method: str) -> Dict[int, float]:
        return {r.seed: delta_m(r.metrics, reference.values) for r in groups[method]
                if r.metrics and r.seed is not None and all(k in r.metrics for k in reference.values)}

    base = per_seed(baseline)
    if not base:
        raise ValueError(f'paired comparison: {baseline!r} has no run with all of {sorted(reference.values)}')
    out = []
    for method, mruns in groups.items():
        if method == baseline or mruns[0].role != 'method':
            continue
        mine = per_seed(method)
        common = sorted(set(mine) & set(base))
        if common:
            out.append(Paired(method, {s: mine[s] - base[s] for s in common}))
    return sorted(out, key=lambda p: -p.stat.mean)


# -------------------------------------------------------------------------------------------------- costs
#: The numbers a cost record is summarised by (see :func:`cost_summary`).
COST_KEYS = ('params', 'flops', 'latency', 'train_time', 'train_mem')


def cost_summary(cost: Mapping) -> Dict[str, Optional[float]]:
    """The numbers the leaderboard and comparisons use, from a ``cost.json`` record.

    ``params`` (deployed), ``flops``, ``latency`` (median ms), ``train_time`` (median s/iter), ``train_mem``
    (MB).
    """
    params, flops = cost.get('params') or {}, cost.get('flops') or {}
    lat, train = cost.get('latency') or {}, cost.get('train') or {}
    return dict(
        params=params.get('deployed'),
        flops=flops.get('total'),
        latency=lat.get('median_ms'),
        train_time=train.get('iter_time_s'),
        train_mem=train.get('train_mem_mb'))


def combine_summaries(summaries: Sequence[Mapping[str, Optional[float]]]) -> Dict[str, Optional[float]]:
    """Cost of several separate models used together: parameters, FLOPs, latency and training time add up;
    training memory is the largest (the models are trained one after the other). None if any is missing."""
    out: Dict[str, Optional[float]] = {}
    for key in COST_KEYS:
        vals = [s.get(key) for s in summaries]
        if not vals or any(v is None for v in vals):
            out[key] = None
        else:
            out[key] = max(vals) if key == 'train_mem' else sum(vals)
    return out


# ------------------------------------------------------------------------------------------------ gap closed
@dataclass
class GapClosed:
    """How much of the gap between a lower and an upper bound each method closes (:func:`gap_closed`)."""
    low: str
    high: str
    metric: str
    low_value: Stat
    high_value: Stat
    level: float
    values: Dict[str, Stat]  # method -> % of the gap closed, over its seeds

    def interval(self, method: str) -> Optional[Tuple[float, float]]:
        """Student-t interval of a method's mean (None with one seed)."""
        stat = self.values[method]
        h = half_width(stat, self.level)
        return None if h is None else (stat.mean - h, stat.mean + h)


def gap_closed(runs: Sequence[RunRecord], low: str, high: str, metric: str = 'mIoU',
               level: float = DEFAULT_LEVEL) -> GapClosed:
    """The share of the ``low`` → ``high`` gap that each method closes on ``metric``, in percent.

    Per seed ``s`` of a method M: ``g_s = 100 · (M_s − L) / (H − L)``, with ``L`` and ``H`` the seed means of
    ``low`` (e.g. the source-only student) and ``high`` (e.g. the oracle), as Δm uses the mean of its reference;
    then the mean, sample std and a Student-t interval at ``level`` over the method's seeds. 0% is ``low``'s
    level, 100% ``high``'s; the two bounds themselves are listed with their seed spread. Every method with the
    metric is listed, the bounds and teachers included (a teacher above 100% is ahead of the oracle student).

    Raises:
        ValueError: when ``low`` or ``high`` has no run with the metric, or ``H == L`` (no gap to close).
    """
    groups = _group(runs)

    def values(method: str) -> List[float]:
        return [float(r.metrics[metric]) for r in groups.get(method, [])
                if r.metrics and metric in r.metrics and math.isfinite(float(r.metrics[metric]))]

    bounds = {}
    for name, method in (('low', low), ('high', high)):
        vals = values(method)
        if not vals:
            raise ValueError(f'gap closed: the {name} end {method!r} has no run with {metric!r}; methods: '
                             f'{sorted(groups)}')
        bounds[name] = mean_std(vals)
    lo, hi = bounds['low'].mean, bounds['high'].mean
    if hi == lo:
        raise ValueError(f'gap closed: {low!r} and {high!r} have the same mean {metric} ({lo}); there is no gap')
    out = {}
    for method in groups:
        vals = values(method)
        if vals:
            out[method] = mean_std([100.0 * (v - lo) / (hi - lo) for v in vals])
    return GapClosed(low, high, metric, bounds['low'], bounds['high'], check_level(level), out)


# ------------------------------------------------------------------------------------------------ per class
def per_class_scores(runs: Sequence[RunRecord], prefix: str = 'IoU.') -> Tuple[List[str], Dict[str, Dict[str, Stat]]]:
    """``(classes, {method: {class: Stat}})`` of the ``<prefix><class>`` metrics (``JointMetric(per_class=True)``)
    over each method's seeds; NaN (a class in neither ground truth nor prediction) is left out of the mean.
    Classes in first-seen order; ``([], {})`` when no run has them."""
    classes: List[str] = []
    for run in runs:
        for key in (run.metrics or {}):
            if key.startswith(prefix) and key[len(prefix):] not in classes:
                classes.append(key[len(prefix):])
    out: Dict[str, Dict[str, Stat]] = {}
    for method, mruns in _group(runs).items():
        row = {}
        for name in classes:
            vals = [float(r.metrics[prefix + name]) for r in mruns if r.metrics and prefix + name in r.metrics]
            vals = [v for v in vals if math.isfinite(v)]
            if vals:
                row[name] = mean_std(vals)
        if row:
            out[method] = row
    return classes, out
