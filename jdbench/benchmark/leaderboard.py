"""Leaderboard: aggregate runs over seeds, Δm against single-task references, ranking, best marking, exports.

Everything here is pure arithmetic and formatting on :class:`RunRecord` lists (no files are searched and
nothing is evaluated; :mod:`jdbench.benchmark.collect` finds the runs). Conventions:

* a cell is ``mean ± std`` over the seeds of a method, ``std`` the sample standard deviation (``ddof=1``);
  one seed shows the mean alone;
* Δm is computed per seed against the *mean* of the reference models' seeds, then averaged like any metric;
* "best" is direction-aware (:data:`~jdbench.evaluation.functional.METRIC_DIRECTIONS`; Δm higher, cost lower)
  and taken over the students (teacher rows are shown but not marked);
* a method with fewer finished seeds than expected is kept and marked incomplete.
"""
import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from prettytable import PrettyTable

from jdbench.evaluation.functional import METRIC_DIRECTIONS, delta_m


@dataclass
class RunRecord:
    """One training run (one method, one seed) and its metrics (None: no results yet)."""
    method: str
    seed: Optional[int] = None
    metrics: Optional[Dict[str, float]] = None
    role: str = 'method'  # 'method', 'reference' (a Δm reference model) or 'teacher'
    work_dir: Optional[str] = None
    config: Optional[str] = None
    checkpoint: Optional[str] = None
    error: Optional[str] = None  # why there are no metrics
    metrics_path: Optional[str] = None  # where its metrics.json is (or goes once evaluated)


@dataclass(frozen=True)
class Column:
    """A leaderboard column: raw values × ``scale`` are shown with ``decimals``."""
    key: str
    title: str
    direction: int  # +1: higher is better, -1: lower is better
    scale: float = 1.0
    decimals: int = 2

    @property
    def header(self) -> str:
        return f'{self.title} {"↑" if self.direction > 0 else "↓"}'


def _metric_column(key: str, title: str, decimals: int) -> Column:
    return Column(key, title, METRIC_DIRECTIONS[key], 1.0, decimals)


#: Metric columns, in display order (shown when at least one row has the metric).
METRIC_COLUMNS: Tuple[Column, ...] = (
    _metric_column('mIoU', 'mIoU (%)', 2),
    _metric_column('pixel_acc', 'Pixel acc (%)', 2),
    _metric_column('abs_err', 'Abs err', 4),
    _metric_column('rel_err', 'Rel err', 4),
    _metric_column('d1', 'δ<1.25', 4),
)
#: Cost columns (from ``cost.json``): deployed parameters, FLOPs and inference latency.
COST_COLUMNS: Tuple[Column, ...] = (
    Column('params', 'Params (M)', -1, 1e-6, 3),
    Column('flops', 'FLOPs (G)', -1, 1e-9, 3),
    Column('latency', 'Latency (ms)', -1, 1.0, 2),
)
#: Metrics Δm averages over by default (segmentation and depth, two each, as in MTAN / Maninis et al.).
DEFAULT_DM_METRICS: Tuple[str, ...] = ('mIoU', 'pixel_acc', 'abs_err', 'rel_err')
ALIASES = {
    'miou': 'mIoU',
    'acc': 'pixel_acc',
    'pixel acc': 'pixel_acc',
    'aacc': 'pixel_acc',
    'delta1': 'd1',
    'δ<1.25': 'd1',
    'dm': 'delta_m',
    'Δm': 'delta_m',
    'deltam': 'delta_m',
    'parameters': 'params',
    'param': 'params',
    'gflops': 'flops',
    'time': 'latency'
}
MISSING = '-'


def delta_m_column(ref_name: str, primary: bool) -> Column:
    """The Δm column of a reference set (the first set's column is plain ``delta_m``)."""
    if primary:
        return Column('delta_m', 'Δm (%)', 1, 1.0, 2)
    return Column(f'delta_m@{ref_name}', f'Δm vs {ref_name} (%)', 1, 1.0, 2)


@dataclass
class Stat:
    """Mean, sample standard deviation (None for a single value) and count of a column over seeds."""
    mean: float
    std: Optional[float]
    n: int


def mean_std(values: Sequence[float]) -> Stat:
    """``Stat`` of values: mean and sample std (``ddof=1``; None when there is one value)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError('mean_std needs at least one value')
    mean = sum(vals) / len(vals)
    if len(vals) == 1:
        return Stat(mean, None, 1)
    var = sum((v - mean)**2 for v in vals) / (len(vals) - 1)
    return Stat(mean, math.sqrt(var), len(vals))


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


def format_value(stat: Optional[Stat], col: Column, with_std: bool = True) -> str:
    """``mean ± std`` of a column at its display precision (``-`` when missing)."""
    if stat is None:
        return MISSING
    text = f'{stat.mean * col.scale:.{col.decimals}f}'
    if with_std and stat.std is not None:
        text += f' ± {stat.std * col.scale:.{col.decimals}f}'
    return text


def display_round(value: Optional[float], col: Column) -> Optional[float]:
    """A raw value as it reads back from its displayed text (display precision, raw units)."""
    if value is None:
        return None
    return float(f'{value * col.scale:.{col.decimals}f}') / col.scale


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
                      notes: Optional[Sequence[str]] = None) -> 'Leaderboard':
    """Aggregate runs into a ranked :class:`Leaderboard`.

    Args:
        runs: one record per (method, seed); records without metrics count as unfinished seeds.
        costs: method -> ``{'params': ..., 'flops': ..., 'latency': ...}`` (see :func:`cost.cost_summary`).
        references: Δm reference sets, name -> model names, e.g. ``{'stl': ['stl_seg', 'stl_depth']}``; the
            first set gives the ``delta_m`` column, the others ``delta_m@<name>``.
        dm_metrics: metrics Δm averages over.
        expected_seeds: method -> number of seeds that should exist (default: the records seen).
        sort_by: a column key, title or alias (default: Δm when there is one, else the first metric column).
        notes: extra lines to print under the table.
    """
    unknown = [m for m in dm_metrics if m not in METRIC_DIRECTIONS]
    if unknown:
        raise ValueError(f'unknown Δm metric(s) {unknown}; known: {sorted(METRIC_DIRECTIONS)}')
    if not runs:
        raise ValueError('no runs to put on the leaderboard')
    notes = list(notes or [])
    groups = _group(runs)
    metric_keys = [c.key for c in METRIC_COLUMNS]
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
            if key in {c.key for c in COST_COLUMNS} and value is not None and math.isfinite(float(value)):
                row.values[key] = Stat(float(value), None, 1)
        rows.append(row)
    present = {k for row in rows for k in row.values}
    columns = [c for c in METRIC_COLUMNS if c.key in present] + [r.column for r in refs] + \
        [c for c in COST_COLUMNS if c.key in present]
    board = Leaderboard(rows, columns, refs, list(dm_metrics), notes)
    board.sort(sort_by)
    return board


# ------------------------------------------------------------------------------------------------ the board
class Leaderboard:
    """Rows × columns with references and notes; sort, mark, print and export."""

    def __init__(self, rows: List[Row], columns: List[Column], references: List[Reference],
                 dm_metrics: List[str], notes: List[str]) -> None:
        self.rows, self.columns, self.references = rows, columns, references
        self.dm_metrics, self.notes = dm_metrics, notes
        self.sort_by: Optional[Column] = None
        self.mark_best()

    # ----------------------------------------------------------------------------- columns
    def column(self, name: str) -> Column:
        """A column by key, title (with or without arrow) or alias, case-insensitively."""
        wanted = ALIASES.get(name, ALIASES.get(name.lower(), name))
        for col in self.columns:
            if wanted.lower() in (col.key.lower(), col.title.lower(), col.header.lower()):
                return col
        valid = ', '.join(c.key for c in self.columns)
        known = {c.key for c in METRIC_COLUMNS + COST_COLUMNS} | {'delta_m'}
        why = ('no run on this leaderboard has it'
               if wanted in known or wanted.startswith('delta_m') else 'unknown column')
        raise ValueError(f'cannot sort by {name!r} ({why}); choose one of: {valid}')

    # ----------------------------------------------------------------------------- ranking
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
                (c.key for c in self.columns if c.key in {m.key
                                                          for m in METRIC_COLUMNS}), None)
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

    # ----------------------------------------------------------------------------- text
    @property
    def headers(self) -> List[str]:
        return ['Rank', 'Method', 'Seeds'] + [c.header for c in self.columns]

    def _cells(self, row: Row, best_fmt: str, partial_mark: str = '†') -> List[str]:
        cells = [str(row.rank) if row.rank is not None else MISSING, row.method, row.seeds_cell]
        for col in self.columns:
            text = format_value(row.values.get(col.key), col)
            if col.key in row.partial:
                text += partial_mark
            if col.key in row.best:
                text = best_fmt.format(text)
            cells.append(text)
        return cells

    def explanation(self) -> List[str]:
        """The lines printed under the table: conventions, Δm and its references, incomplete rows, notes."""
        lines = [
            'Cells: mean ± sample std (ddof=1) over seeds; * / bold = best per column among the students '
            '(↑ higher is better, ↓ lower); † = averaged over fewer seeds than the row has.'
        ]
        if self.sort_by is not None:
            lines.append(f'Sorted by {self.sort_by.title} '
                         f'({"higher" if self.sort_by.direction > 0 else "lower"} is better).')
        for ref in self.references:
            parts = ', '.join(f'{m} = {v:.4g} ({src[0]}, {src[1]} seed{"s" if src[1] != 1 else ""})'
                              for m, v in ref.values.items() for src in [ref.sources[m]])
            lines.append(f'{ref.column.title}: Δm = 100/T · Σ_i s_i (M_i − B_i) / B_i over {len(ref.values)} '
                         f'metrics, s_i = +1 if higher is better else −1, B = single-task reference '
                         f'{ref.name!r}: {parts}. Positive = better than the reference; computed per seed, '
                         'then averaged.')
        if not self.references:
            lines.append('Δm: not shown (no single-task reference results; see --reference).')
        incomplete = [r for r in self.rows if not r.complete]
        if incomplete:
            lines.append('Incomplete: ' +
                         '; '.join(f'{r.method} ({len(r.seeds)} of {r.expected} seeds finished)'
                                   for r in incomplete) + ' (Seeds column "n/m incomplete").')
        lines.extend(dict.fromkeys(self.notes))  # de-duplicated, in order
        return lines

    def to_table(self) -> PrettyTable:
        table = PrettyTable(self.headers)
        for row in self.rows:
            table.add_row(self._cells(row, '{} *'))
        for h in self.headers[3:]:
            table.align[h] = 'r'
        table.align['Method'] = 'l'
        return table

    def to_text(self) -> str:
        return self.to_table().get_string() + '\n' + '\n'.join(self.explanation())

    def to_markdown(self) -> str:
        lines = [
            '| ' + ' | '.join(self.headers) + ' |',
            '|' + '|'.join(['---:', ':---', '---:'] + ['---:'] * len(self.columns)) + '|'
        ]
        for row in self.rows:
            lines.append('| ' + ' | '.join(self._cells(row, '**{}**')) + ' |')
        return '\n'.join(lines) + '\n\n' + '\n'.join(f'- {line}' for line in self.explanation()) + '\n'

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator='\n')
        header = ['rank', 'method', 'role', 'seeds', 'seeds_expected', 'complete']
        for col in self.columns:
            header += [f'{col.key}_mean', f'{col.key}_std', f'{col.key}_n']
        writer.writerow(header + ['best'])
        for row in self.rows:
            cells = [
                '' if row.rank is None else row.rank, row.method, row.role,
                len(row.seeds), row.expected,
                int(row.complete)
            ]
            for col in self.columns:
                st = row.values.get(col.key)
                cells += ['', '', ''
                          ] if st is None else [repr(st.mean), '' if st.std is None else repr(st.std), st.n]
            writer.writerow(cells + [';'.join(sorted(row.best))])
        return buf.getvalue()

    def to_dict(self) -> dict:
        return dict(
            columns=[
                dict(key=c.key, title=c.title, direction=c.direction, scale=c.scale, decimals=c.decimals)
                for c in self.columns
            ],
            sort_by=self.sort_by.key if self.sort_by else None,
            references=[
                dict(name=r.name, values=r.values, sources={
                    k: list(v)
                    for k, v in r.sources.items()
                }) for r in self.references
            ],
            dm_metrics=self.dm_metrics,
            rows=[
                dict(
                    rank=r.rank,
                    method=r.method,
                    role=r.role,
                    seeds=r.seeds,
                    seeds_expected=r.expected,
                    complete=r.complete,
                    best=sorted(r.best),
                    partial=sorted(r.partial),
                    values={
                        k: dict(mean=s.mean, std=s.std, n=s.n)
                        for k, s in r.values.items()
                    }) for r in self.rows
            ],
            notes=self.explanation())

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=True)

    # ----------------------------------------------------------------------------- parse-back form
    def records(self, display: bool = False) -> List[dict]:
        """Rows in the normalised form the readers return; ``display`` rounds as the Markdown shows them."""
        out = []
        for row in self.rows:
            values = {}
            for col in self.columns:
                st = row.values.get(col.key)
                if st is None:
                    continue
                if display:
                    values[col.key] = (display_round(st.mean, col), display_round(st.std, col))
                else:
                    values[col.key] = (st.mean, st.std)
            out.append(
                dict(
                    rank=row.rank,
                    method=row.method,
                    seeds=len(row.seeds),
                    seeds_expected=row.expected,
                    values=values))
        return out


# -------------------------------------------------------------------------------------------- parse back
def _column_from_header(header: str) -> Column:
    title = header.rstrip(' ↑↓')
    for col in METRIC_COLUMNS + COST_COLUMNS + (delta_m_column('', True), ):
        if col.title == title:
            return col
    match = re.fullmatch(r'Δm vs (.+) \(%\)', title)
    if match:
        return delta_m_column(match.group(1), False)
    raise ValueError(f'unknown leaderboard column {header!r}')


def _parse_cell(text: str, col: Column) -> Optional[Tuple[float, Optional[float]]]:
    text = text.strip().strip('*').strip().rstrip('†').strip()
    if text == MISSING:
        return None
    mean, _, std = text.partition('±')
    return (float(mean) / col.scale, float(std) / col.scale if std.strip() else None)


def _parse_seeds(text: str) -> Tuple[int, int]:
    n, _, m = text.split()[0].partition('/')
    return int(n), int(m) if m else int(n)


def read_markdown(text: str) -> List[dict]:
    """Rows of a Markdown leaderboard (values at display precision, raw units)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith('|')]
    if len(lines) < 2:
        raise ValueError('no Markdown table found')
    headers = [h.strip() for h in lines[0].strip('|').split('|')]
    cols = [_column_from_header(h) for h in headers[3:]]
    out = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        seeds, expected = _parse_seeds(cells[2])
        values = {}
        for col, cell in zip(cols, cells[3:]):
            parsed = _parse_cell(cell, col)
            if parsed is not None:
                values[col.key] = parsed
        out.append(
            dict(
                rank=None if cells[0] == MISSING else int(cells[0]),
                method=cells[1],
                seeds=seeds,
                seeds_expected=expected,
                values=values))
    return out


def read_csv(text: str) -> List[dict]:
    """Rows of a CSV leaderboard (full precision)."""
    reader = csv.DictReader(io.StringIO(text))
    keys = [h[:-5] for h in reader.fieldnames or [] if h.endswith('_mean')]
    out = []
    for rec in reader:
        values = {
            k: (float(rec[f'{k}_mean']), float(rec[f'{k}_std']) if rec[f'{k}_std'] else None)
            for k in keys if rec[f'{k}_mean'] != ''
        }
        out.append(
            dict(
                rank=int(rec['rank']) if rec['rank'] else None,
                method=rec['method'],
                seeds=int(rec['seeds']),
                seeds_expected=int(rec['seeds_expected']),
                values=values))
    return out


def read_json(text: str) -> List[dict]:
    """Rows of a JSON leaderboard (full precision)."""
    data = json.loads(text)
    order = [c['key'] for c in data['columns']]
    return [
        dict(
            rank=r['rank'],
            method=r['method'],
            seeds=len(r['seeds']),
            seeds_expected=r['seeds_expected'],
            values={k: (r['values'][k]['mean'], r['values'][k]['std'])
                    for k in order if k in r['values']}) for r in data['rows']
    ]


def read_leaderboard(path: str) -> List[dict]:
    """Parse an exported leaderboard (``.md``, ``.csv`` or ``.json``) back into rows."""
    readers = {'.md': read_markdown, '.csv': read_csv, '.json': read_json}
    ext = '.' + path.rsplit('.', 1)[-1].lower()
    if ext not in readers:
        raise ValueError(f'cannot read {path!r}: expected one of {sorted(readers)}')
    with open(path, encoding='utf-8') as f:
        return readers[ext](f.read())


# ------------------------------------------------------------------------------------------------- export
EXPORT_FORMATS = ('md', 'csv', 'json', 'png')


def write_leaderboard(board: Leaderboard, path: str,
                      chart: Tuple[str, str] = ('latency', 'delta_m')) -> Optional[str]:
    """Write one export, the format from the extension (``.md``, ``.csv``, ``.json``, ``.png`` = chart).

    Returns the path, or None for a chart that has nothing to show (no row with both columns).
    """
    import os
    import os.path as osp
    ext = path.rsplit('.', 1)[-1].lower()
    if ext not in EXPORT_FORMATS:
        raise ValueError(f'cannot export a leaderboard as {path!r}: use one of .{", .".join(EXPORT_FORMATS)}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if ext == 'png':
        from .plots import plot_leaderboard
        return plot_leaderboard(board, path, x=chart[0], y=chart[1])
    text = {'md': board.to_markdown, 'csv': board.to_csv, 'json': board.to_json}[ext]()
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def export_leaderboard(
    board: Leaderboard,
    out_dir: str,
    formats: Sequence[str] = EXPORT_FORMATS,
    stem: str = 'leaderboard',
    chart: Tuple[str, str] = ('latency', 'delta_m')) -> List[str]:
    """Write ``{out_dir}/{stem}.{md,csv,json,png}``; returns the files written."""
    import os.path as osp
    written = [write_leaderboard(board, osp.join(out_dir, f'{stem}.{fmt}'), chart) for fmt in formats]
    return [p for p in written if p]


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


def paired_markdown(pairs: Sequence[Paired], reference: Reference, baseline: str) -> str:
    """The paired comparison as a Markdown table with a one-line explanation."""
    lines = [f'| Method | Seeds | Δm − Δm({baseline}) per seed | Mean ± std | Better in |',
             '|:---|---:|:---|---:|---:|']
    for p in pairs:
        stat = p.stat
        spread = f' ± {stat.std:.2f}' if stat.std is not None else ''
        per = ', '.join(f'{s}: {round(d, 2) + 0.0:+.2f}' for s, d in p.diffs.items())  # no '-0.00'
        lines.append(f'| {p.method} | {len(p.diffs)} | {per} | {stat.mean:+.2f}{spread} | {p.wins}/{len(p.diffs)} |')
    return '\n'.join(lines) + (
        f'\n\nPaired by seed against {baseline}: Δm vs {reference.name!r} in percentage points, positive = the '
        f'method is ahead of {baseline} at that seed.\n')
