"""Rendering: a :class:`~.aggregate.Leaderboard` as text, Markdown, CSV, JSON, a chart or an HTML page
(:mod:`.html`); the paired table; cost records and cost comparisons as readable lines."""
import csv
import io
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from prettytable import PrettyTable

from jdbench.evaluation.functional import delta_m
from .aggregate import (DEFAULT_LEVEL, GapClosed, Leaderboard, Paired, PairedComparison, Reference, Row,
                        combine_summaries, half_width)
from .records import ALIASES, FLOPS_COUNTER, TRAIN_TIME_COLUMN, Column, Stat

MISSING = '-'
#: What ``--out-dir`` writes.
EXPORT_FORMATS = ('md', 'csv', 'json', 'png')
#: Every format a leaderboard can be written as (``html``: one self-contained page, :mod:`.html`).
FORMATS = EXPORT_FORMATS + ('html', )
#: The default chart: Δm against the training cost per iteration (where the methods differ).
DEFAULT_CHART = ('train_time', 'delta_m')


def format_value(stat: Optional[Stat], col: Column, with_std: bool = True) -> str:
    """``mean ± std`` of a column at its display precision (``-`` when missing)."""
    if stat is None:
        return MISSING
    text = f'{stat.mean * col.scale:.{col.decimals}f}'
    if with_std and stat.std is not None:
        text += f' ± {stat.std * col.scale:.{col.decimals}f}'
    return text


# ------------------------------------------------------------------------------------------- leaderboard
def headers(board: Leaderboard) -> List[str]:
    return ['Rank', 'Method', 'Seeds'] + [c.header for c in board.columns]


def _cells(board: Leaderboard, row: Row, best_fmt: str, partial_mark: str = '†') -> List[str]:
    cells = [str(row.rank) if row.rank is not None else MISSING, row.method, row.seeds_cell]
    for col in board.columns:
        text = format_value(row.values.get(col.key), col)
        if col.key in row.partial:
            text += partial_mark
        if col.key in row.best:
            text = best_fmt.format(text)
        cells.append(text)
    return cells


def explanation(board: Leaderboard, with_footer: bool = True) -> List[str]:
    """The lines printed under the table: conventions, Δm and its references, incomplete rows, notes, the
    paired comparisons, and (``with_footer``) the warnings."""
    lines = [
        'Cells: mean ± sample std (ddof=1) over seeds; * / bold = best per column among the students '
        '(↑ higher is better, ↓ lower); † = averaged over fewer seeds than the row has.'
    ]
    if board.sort_by is not None:
        lines.append(f'Sorted by {board.sort_by.title} '
                     f'({"higher" if board.sort_by.direction > 0 else "lower"} is better).')
    lines += reference_lines(board)
    incomplete = [r for r in board.rows if not r.complete]
    if incomplete:
        lines.append('Incomplete: ' +
                     '; '.join(f'{r.method} ({len(r.seeds)} of {r.expected} seeds finished)'
                               for r in incomplete) + ' (Seeds column "n/m incomplete").')
    lines.extend(dict.fromkeys(board.notes))  # de-duplicated, in order
    for comparison in board.paired:
        lines += paired_lines(comparison)
    return lines + (footer(board) if with_footer else [])


def reference_lines(board: Leaderboard) -> List[str]:
    """How each Δm column is computed and from which reference values."""
    lines = []
    for ref in board.references:
        parts = ', '.join(f'{m} = {v:.4g} ({src[0]}, {src[1]} seed{"s" if src[1] != 1 else ""})'
                          for m, v in ref.values.items() for src in [ref.sources[m]])
        lines.append(f'{ref.column.title}: Δm = 100/T · Σ_i s_i (M_i − B_i) / B_i over {len(ref.values)} '
                     f'metrics, s_i = +1 if higher is better else −1, B = single-task reference '
                     f'{ref.name!r}: {parts}. Positive = better than the reference; computed per seed, '
                     'then averaged.')
    if not board.references:
        lines.append('Δm: not shown (no single-task reference results; see --reference).')
    return lines


def footer(board: Leaderboard) -> List[str]:
    """The warnings closing the leaderboard (e.g. teachers not ahead of their single-task references)."""
    return list(dict.fromkeys(board.warnings))


def signed(value: float) -> str:
    """``+1.25`` / ``-0.50``, never ``-0.00``."""
    return f'{round(value, 2) + 0.0:+.2f}'


def interval_text(pair: Paired, level: float) -> str:
    """``[+0.50, +3.70]``, or ``-`` with one seed."""
    iv = pair.interval(level)
    return MISSING if iv is None else f'[{signed(iv[0])}, {signed(iv[1])}]'


def paired_lines(comparison: PairedComparison) -> List[str]:
    """Under the table: the methods separated from the baseline at the chosen level and those that are not."""
    base, level = comparison.baseline, comparison.level
    pct = f'{level * 100:g}%'

    def item(p: Paired) -> str:
        n = len(p.diffs)
        seeds = f'{n} seed{"s" if n != 1 else ""}'
        if p.interval(level) is None:
            return f'{p.method} {signed(p.stat.mean)} ({seeds}: no interval)'
        return (f'{p.method} {signed(p.stat.mean)} {interval_text(p, level)} ({seeds}, ahead in '
                f'{p.wins}/{n}, sign test p = {p.sign_p:.3g})')

    separated = [item(p) for p in comparison.pairs if p.separated(level)]
    others = [item(p) for p in comparison.pairs if not p.separated(level)]
    return [
        f'Paired vs {base}: Δm − Δm({base}) in percentage points (Δm vs {comparison.reference.name!r}) on '
        f'the seeds both ran; [interval] = {pct} Student-t confidence interval of the mean difference (n − 1 '
        'degrees of freedom); p = exact two-sided sign test (zero differences left out). Separated = the '
        'interval excludes 0.',
        f'Separated from {base} at {pct}: {"; ".join(separated) or "none"}.',
        f'Not separated from {base} at {pct}: {"; ".join(others) or "none"}.',
    ]


def gap_lines(gap: GapClosed, roles: Optional[Mapping[str, str]] = None, decimals: int = 1) -> List[str]:
    """Under the table: how much of the ``low`` → ``high`` gap each method closes (:func:`~.aggregate.gap_closed`),
    best first, with the Student-t interval over its seeds; teachers marked (``roles``: method -> role)."""
    roles = roles or {}
    pct = f'{gap.level * 100:g}%'

    def bound(stat: Stat, name: str) -> str:
        spread = f' ± {stat.std:.4g}' if stat.std is not None else ''
        return f'{stat.mean:.4g}{spread} ({name}, {stat.n} seed{"s" if stat.n != 1 else ""})'

    def item(method: str) -> str:
        stat, iv = gap.values[method], gap.interval(method)
        seeds = f'{stat.n} seed{"s" if stat.n != 1 else ""}'
        mark = ', teacher' if roles.get(method) == 'teacher' else ''
        where = f' [{iv[0]:.{decimals}f}, {iv[1]:.{decimals}f}]' if iv else ''
        return f'{method} {stat.mean:.{decimals}f}%{where} ({seeds}{mark})'

    methods = sorted((m for m in gap.values if m not in (gap.low, gap.high)), key=lambda m: -gap.values[m].mean)
    return [
        f'Gap closed on {gap.metric} ({gap.low} → {gap.high}): 100 · (M − L) / (H − L) per seed of each method, '
        f'L = {bound(gap.low_value, gap.low)} and H = {bound(gap.high_value, gap.high)} the seed means; 0% = '
        f'{gap.low}, 100% = {gap.high}; [interval] = {pct} Student-t interval of the mean over the seeds.',
        'Gap closed: ' + ('; '.join(item(m) for m in methods) or 'no other method has the metric') + '.',
    ]


def per_class_rows(classes: Sequence[str], scores: Mapping[str, Mapping[str, Stat]],
                   methods: Sequence[str]) -> List[List[str]]:
    """One row per class: the class, then each method's seed-mean IoU (2 decimals; ``-`` when missing)."""
    return [[name] + [f'{scores[m][name].mean:.2f}' if name in scores.get(m, {}) else MISSING for m in methods]
            for name in classes]


def per_class_text(classes: Sequence[str], scores: Mapping[str, Mapping[str, Stat]],
                   methods: Sequence[str]) -> str:
    """The per-class IoU table (classes × methods, seed means) as text."""
    table = PrettyTable(['Class'] + list(methods))
    for row in per_class_rows(classes, scores, methods):
        table.add_row(row)
    for m in methods:
        table.align[m] = 'r'
    table.align['Class'] = 'l'
    return 'Per-class IoU (%), mean over seeds:\n' + table.get_string()


def per_class_markdown(classes: Sequence[str], scores: Mapping[str, Mapping[str, Stat]],
                       methods: Sequence[str]) -> str:
    lines = ['| Class | ' + ' | '.join(methods) + ' |', '|:---|' + '---:|' * len(methods)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in per_class_rows(classes, scores, methods)]
    return 'Per-class IoU (%), mean over seeds.\n\n' + '\n'.join(lines) + '\n'


def per_class_csv(classes: Sequence[str], scores: Mapping[str, Mapping[str, Stat]],
                  methods: Sequence[str]) -> str:
    """One row per method and class: ``method, class, mean, std, n`` at full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(['method', 'class', 'iou_mean', 'iou_std', 'iou_n'])
    for m in methods:
        for name in classes:
            st = scores.get(m, {}).get(name)
            if st is not None:
                writer.writerow([m, name, repr(st.mean), '' if st.std is None else repr(st.std), st.n])
    return buf.getvalue()


def to_table(board: Leaderboard) -> PrettyTable:
    heads = headers(board)
    table = PrettyTable(heads)
    for row in board.rows:
        table.add_row(_cells(board, row, '{} *'))
    for h in heads[3:]:
        table.align[h] = 'r'
    table.align['Method'] = 'l'
    return table


def to_text(board: Leaderboard, costs: Sequence[str] = ()) -> str:
    """The table (best values marked ``*``), the explanation under it, the cost comparison lines (``costs``)
    and the warnings last."""
    text = to_table(board).get_string() + '\n' + '\n'.join(explanation(board, with_footer=False))
    if costs:
        text += '\n\nCost comparison:\n' + '\n'.join(costs)
    return text + ''.join('\n' + line for line in footer(board))


def to_markdown(board: Leaderboard) -> str:
    """The table (best values in bold) and the explanation as a list."""
    lines = [
        '| ' + ' | '.join(headers(board)) + ' |',
        '|' + '|'.join(['---:', ':---', '---:'] + ['---:'] * len(board.columns)) + '|'
    ]
    for row in board.rows:
        lines.append('| ' + ' | '.join(_cells(board, row, '**{}**')) + ' |')
    return '\n'.join(lines) + '\n\n' + '\n'.join(f'- {line}' for line in explanation(board)) + '\n'


def to_csv(board: Leaderboard) -> str:
    """One row per method: rank, method, role, seeds, ``<col>_mean/_std/_n`` at full precision, best."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    header = ['rank', 'method', 'role', 'seeds', 'seeds_expected', 'complete']
    for col in board.columns:
        header += [f'{col.key}_mean', f'{col.key}_std', f'{col.key}_n']
    writer.writerow(header + ['best'])
    for row in board.rows:
        cells = ['' if row.rank is None else row.rank, row.method, row.role, len(row.seeds), row.expected,
                 int(row.complete)]
        for col in board.columns:
            st = row.values.get(col.key)
            cells += ['', '', ''] if st is None else [repr(st.mean), '' if st.std is None else repr(st.std), st.n]
        writer.writerow(cells + [';'.join(sorted(row.best))])
    return buf.getvalue()


def _column_dict(c: Column) -> dict:
    return dict(key=c.key, title=c.title, direction=c.direction, scale=c.scale, decimals=c.decimals)


def to_dict(board: Leaderboard) -> dict:
    """Columns, references and rows with every statistic, notes, paired comparisons and warnings."""
    return dict(
        columns=[
            dict(key=c.key, title=c.title, direction=c.direction, scale=c.scale, decimals=c.decimals)
            for c in board.columns
        ],
        sort_by=board.sort_by.key if board.sort_by else None,
        references=[
            dict(name=r.name, values=r.values, sources={k: list(v) for k, v in r.sources.items()})
            for r in board.references
        ],
        dm_metrics=board.dm_metrics,
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
                values={k: dict(mean=s.mean, std=s.std, n=s.n) for k, s in r.values.items()})
            for r in board.rows
        ],
        notes=explanation(board),
        extra_columns=[_column_dict(c) for c in board.extra_columns],
        level=board.level,
        paired=[
            dict(
                baseline=cmp.baseline,
                reference=cmp.reference.name,
                level=cmp.level,
                methods=[
                    dict(
                        method=p.method,
                        diffs={str(k): v for k, v in p.diffs.items()},
                        mean=p.stat.mean,
                        std=p.stat.std,
                        interval=list(p.interval(cmp.level)) if p.interval(cmp.level) else None,
                        wins=p.wins,
                        losses=p.losses,
                        sign_p=p.sign_p,
                        separated=p.separated(cmp.level)) for p in cmp.pairs
                ]) for cmp in board.paired
        ],
        warnings=footer(board))


def to_json(board: Leaderboard) -> str:
    return json.dumps(to_dict(board), indent=2, ensure_ascii=False, allow_nan=True)


#: How each role is drawn on the chart.
ROLE_STYLES = {
    'method': dict(marker='o', color='tab:blue', label='methods'),
    'teacher': dict(marker='^', color='tab:red', label='teachers'),
    'reference': dict(marker='s', color='tab:gray', label='single-task references'),
}


@dataclass
class ChartPoint:
    """One point of the chart: a row, or several rows used together (the teachers, the single-task pair)."""
    label: str
    role: str
    x: Optional[float]
    y: float
    yerr: Optional[float] = None
    complete: bool = True


def _finite(row: Row, key: str) -> bool:
    return key in row.values and math.isfinite(row.values[key].mean)


def chart_points(board: Leaderboard, cx: Optional[Column], cy: Column) -> List[ChartPoint]:
    """The rows that have ``cy`` (and ``cx`` when given), y error = the seed interval of the mean at the
    board's level; for a Δm ``cy``, the teachers and the single-task references that have no Δm alone are
    drawn as one point per role: their metrics together (each from the row that has it), x the sum of
    theirs."""
    points = []
    for r in board.rows:
        if _finite(r, cy.key) and (cx is None or _finite(r, cx.key)):
            sy, x = r.values[cy.key], r.values[cx.key].mean * cx.scale if cx else None
            points.append(
                ChartPoint(r.method, r.role, x, sy.mean * cy.scale,
                           (half_width(sy, board.level) or 0.0) * cy.scale, r.complete))
    ref = next((ref for ref in board.references if ref.column.key == cy.key), None)
    for role in ('teacher', 'reference'):
        if ref is None:
            break
        members = [r for r in board.rows if r.role == role and not _finite(r, cy.key)]
        metrics, used = {}, []
        for metric in ref.values:
            row = next((r for r in members if _finite(r, metric)), None)
            if row is not None:
                metrics[metric] = row.values[metric].mean
                used += [row] if row not in used else []
        if len(metrics) < len(ref.values) or (cx and not all(_finite(r, cx.key) for r in used)):
            continue
        xs = [r.values[cx.key].mean * cx.scale for r in used] if cx else []
        x = (max(xs) if cx.key == 'train_mem' else sum(xs)) if cx else None
        label = ' + '.join(r.method for r in used)
        points.append(
            ChartPoint(label, role, x, delta_m(metrics, ref.values) * cy.scale, None,
                       all(r.complete for r in used)))
    return points


def chart_figure(board: Leaderboard, x: str = DEFAULT_CHART[0], y: str = DEFAULT_CHART[1],
                 figsize: Tuple[float, float] = (8.0, 5.0), dpi: int = 100):
    """A matplotlib figure of ``y`` against ``x`` (default Δm vs training time per iteration), one labelled
    point per method with the seed interval of the mean as error bars, teachers and single-task references
    marked by role; None when no row has ``y``, or ``x`` (except the training time, which ``--compare`` does not
    measure: then one point per method along the x axis)."""
    from jdbench.visualization.curves import new_figure
    try:
        cy = board.column(y)
    except ValueError:
        return None
    try:
        cx = board.column(x)
    except ValueError:
        cx = None
    points = chart_points(board, cx, cy) if cx is not None else []
    categorical = not points and ALIASES.get(x, x) == TRAIN_TIME_COLUMN.key
    if categorical:
        points = chart_points(board, None, cy)
    if not points:
        return None
    fig = new_figure(figsize, dpi)
    ax = fig.subplots()
    seen = set()
    for i, p in enumerate(points):
        style = ROLE_STYLES.get(p.role, ROLE_STYLES['method'])
        px = i if categorical else p.x
        ax.errorbar(
            px,
            p.y,
            yerr=p.yerr or None,
            fmt=style['marker'],
            color=style['color'],
            mfc=style['color'] if p.complete else 'none',
            capsize=3,
            label=None if p.role in seen else style['label'])
        seen.add(p.role)
        if not categorical:
            ax.annotate(
                p.label + ('' if p.complete else ' (incomplete)'), (px, p.y),
                textcoords='offset points',
                xytext=(5, 5),
                fontsize='small')
    pct = f'{board.level * 100:g}%'
    if categorical:
        ax.set_xticks(range(len(points)))
        ax.set_xticklabels([p.label + ('' if p.complete else ' (incomplete)') for p in points],
                           rotation=30,
                           ha='right',
                           fontsize='small')
        ax.set(ylabel=cy.header, title=f'{cy.title} per method (no {x} on the leaderboard)\n'
               f'error bars: {pct} t-interval of the mean over seeds')
    else:
        ax.set(xlabel=cx.header, ylabel=cy.header, title=f'{cy.title} vs {cx.title}\n'
               f'error bars: {pct} t-interval of the mean over seeds')
    if cy.key.startswith('delta_m'):
        ax.axhline(0.0, color='grey', linewidth=0.8, linestyle='--')
    ax.margins(x=0.15)  # room for the labels
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    fig.tight_layout()
    return fig


def plot_leaderboard(board: Leaderboard, path: str, x: str = DEFAULT_CHART[0], y: str = DEFAULT_CHART[1],
                     figsize: Tuple[float, float] = (8.0, 5.0), dpi: int = 100) -> Optional[str]:
    """Write :func:`chart_figure` as a PNG; None when no row has ``y``."""
    from jdbench.visualization.curves import save_figure
    fig = chart_figure(board, x, y, figsize, dpi)
    return None if fig is None else save_figure(fig, path)


def write_leaderboard(board: Leaderboard,
                      path: str,
                      chart: Tuple[str, str] = DEFAULT_CHART,
                      extra: Sequence[str] = ()) -> Optional[str]:
    """Write one export, the format from the extension (``.md``, ``.csv``, ``.json``, ``.png`` = chart,
    ``.html`` = the page, with ``extra`` lines such as the cost comparison).

    Returns the path, or None for a chart that has nothing to show (no row with Δm or the chart's y column).
    """
    ext = path.rsplit('.', 1)[-1].lower()
    if ext not in FORMATS:
        raise ValueError(f'cannot export a leaderboard as {path!r}: use one of .{", .".join(FORMATS)}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if ext == 'png':
        return plot_leaderboard(board, path, x=chart[0], y=chart[1])
    if ext == 'html':
        from .html import write_html
        return write_html(board, path, chart, extra)
    writers: Mapping[str, Callable[[Leaderboard], str]] = dict(md=to_markdown, csv=to_csv, json=to_json)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(writers[ext](board))
    return path


def export_leaderboard(board: Leaderboard,
                       out_dir: str,
                       formats: Sequence[str] = EXPORT_FORMATS,
                       stem: str = 'leaderboard',
                       chart: Tuple[str, str] = DEFAULT_CHART,
                       extra: Sequence[str] = ()) -> List[str]:
    """Write ``{out_dir}/{stem}.{fmt}`` for each format (``md``, ``csv``, ``json``, ``png``, ``html``);
    returns the files written."""
    written = [write_leaderboard(board, osp.join(out_dir, f'{stem}.{fmt}'), chart, extra) for fmt in formats]
    return [p for p in written if p]


def paired_markdown(pairs: Sequence[Paired], reference: Reference, baseline: str,
                    level: float = DEFAULT_LEVEL) -> str:
    """The paired comparison as a Markdown table (per-seed differences, mean ± std, wins, the Student-t
    interval of the mean and the sign test) with its explanation."""
    pct = f'{level * 100:g}%'
    lines = [
        f'| Method | Seeds | Δm − Δm({baseline}) per seed | Mean ± std | Better in | {pct} interval | '
        'Sign test p |',
        '|:---|---:|:---|---:|---:|---:|---:|'
    ]
    for p in pairs:
        stat = p.stat
        spread = f' ± {stat.std:.2f}' if stat.std is not None else ''
        per = ', '.join(f'{s}: {signed(d)}' for s, d in p.diffs.items())
        lines.append(f'| {p.method} | {len(p.diffs)} | {per} | {stat.mean:+.2f}{spread} | '
                     f'{p.wins}/{len(p.diffs)} | {interval_text(p, level)} | {p.sign_p:.3g} |')
    return '\n'.join(lines) + (
        f'\n\nPaired by seed against {baseline}: Δm vs {reference.name!r} in percentage points, positive = '
        f'the method is ahead of {baseline} at that seed. Interval: {pct} Student-t confidence interval of '
        'the mean difference (n − 1 degrees of freedom; none with one seed); p: exact two-sided sign test (zero '
        f'differences left out). A method is separated from {baseline} at {pct} when its interval excludes '
        '0.\n')


# -------------------------------------------------------------------------------------------------- costs
def cost_conditions(cost: Mapping) -> str:
    """One line saying how a cost record was measured (for the notes under a leaderboard)."""
    size = 'x'.join(map(str, cost.get('input_size') or [])) or '?'
    lat = cost.get('latency') or {}
    text = (f'Params: deployed model (the student for distillers); FLOPs at input {size} '
            '(1 multiply-add = 1 FLOP)')
    if lat:
        text += (f'; latency: median of {lat.get("repeats", "?")} runs, batch {lat.get("batch_size", "?")}, '
                 f'{lat.get("device", "?")}, {lat.get("threads", "?")} threads')
    return text + '.'


#: key, noun, (word when the subject is smaller, word when larger), unit formatter
RATIO_FIELDS = (
    ('params', 'parameters', ('fewer', 'more'), lambda v: f'{v / 1e6:.2f}M'),
    ('flops', 'FLOPs', ('fewer', 'more'), lambda v: f'{v / 1e9:.2f}G'),
    ('latency', 'latency', ('lower', 'higher'), lambda v: f'{v:.2f} ms'),
    ('train_time', 'training time per iteration', ('less', 'more'), lambda v: f'{v:.3f} s'),
    ('train_mem', 'training memory', ('less', 'more'), lambda v: f'{v:.0f} MB'),
)


def ratio_phrase(subject: float, reference: float, noun: str, words: Tuple[str, str], fmt) -> str:
    """E.g. ``'32% fewer parameters (1.20M vs 1.76M)'``; relative to the reference."""
    if reference == 0:
        return f'{noun}: {fmt(subject)} vs {fmt(reference)}'
    change = (reference - subject) / reference * 100.0
    word = words[0] if change >= 0 else words[1]
    return f'{abs(change):.0f}% {word} {noun} ({fmt(subject)} vs {fmt(reference)})'


def compare_costs(subject: str, summaries: Mapping[str, Mapping[str, Optional[float]]],
                  groups: Mapping[str, Sequence[str]]) -> Tuple[List[str], dict]:
    """Lines like ``'jd vs teachers (seg + depth): 32% fewer parameters (...), 21% lower latency (...)'`` and
    the same as JSON (``{group: {members, combined, ratios: {key: subject / reference}}}``).

    Args:
        subject: the name of the deployed model in ``summaries``.
        summaries: name -> :func:`~.aggregate.cost_summary`.
        groups: reference name -> the models it consists of (combined by
            :func:`~.aggregate.combine_summaries`).
    """
    if subject not in summaries:
        raise ValueError(f'no cost for {subject!r}; have {sorted(summaries)}')
    subj = summaries[subject]
    lines, data = [], dict(subject=subject, subject_cost=dict(subj), groups={})
    for name, members in groups.items():
        missing = [m for m in members if m not in summaries]
        if missing:
            lines.append(f'{subject} vs {name}: no cost for {", ".join(missing)}')
            continue
        combined = combine_summaries([summaries[m] for m in members])
        phrases, ratios = [], {}
        for key, noun, words, fmt in RATIO_FIELDS:
            s, r = subj.get(key), combined.get(key)
            if s is None or r is None:
                continue
            phrases.append(ratio_phrase(s, r, noun, words, fmt))
            ratios[key] = s / r if r else None
        label = name if list(members) == [name] else f'{name} ({" + ".join(members)})'
        line = f'{subject} vs {label}: ' + (', '.join(phrases) or 'nothing measured on both')
        if all(subj.get(k) is not None and subj.get(k) == combined.get(k) for k in ('params', 'flops')):
            line += ' [same parameter and FLOP counts: the latency difference is measurement noise]'
        lines.append(line)
        data['groups'][name] = dict(members=list(members), combined=combined, ratios=ratios)
    return lines, data


def format_cost(cost: Mapping) -> str:
    """A cost record as a readable report (component table, FLOPs, latency, training)."""
    lines = [
        f'config: {cost.get("config")}' +
        (f'  checkpoint: {cost["checkpoint"]}' if cost.get('checkpoint') else '')
    ]
    if cost.get('note'):
        lines.append(f'note: {cost["note"]}')
    params = cost.get('params') or {}
    table = PrettyTable(['component', 'params', 'trainable'])
    table.align['component'] = 'l'
    for name, c in (params.get('components') or {}).items():
        table.add_row([name, f'{c["total"]:,}', f'{c["trainable"]:,}'])
    table.add_row(['total', f'{params.get("total", 0):,}', f'{params.get("trainable", 0):,}'])
    lines += [
        table.get_string(), f'deployed ({cost.get("deployed", "model")}): {params.get("deployed", 0):,} '
        'parameters'
    ]
    flops = cost.get('flops') or {}
    if flops.get('total') is not None:
        lines.append(
            f'FLOPs: {flops["total"] / 1e9:.3f} G at input {"x".join(map(str, flops["input_shape"]))} '
            f'({FLOPS_COUNTER})')
    elif flops.get('error'):
        lines.append(f'FLOPs: not counted ({flops["error"]})')
    lat = cost.get('latency')
    if lat:
        lines.append(f'latency: median {lat["median_ms"]:.2f} ms, p90 {lat["p90_ms"]:.2f} ms (batch '
                     f'{lat["batch_size"]}, input {"x".join(map(str, lat["input_shape"]))}, {lat["device"]}, '
                     f'{lat["threads"]} threads, {lat["warmup"]} warm-up + {lat["repeats"]} runs)')
    train = cost.get('train')
    if train and 'iter_time_s' in train:
        lines.append(
            f'training: {train["iter_time_s"]:.3f} s/iter (median of {train["iters"]}, batch '
            f'{train["batch_size"]}, input {"x".join(map(str, train["input_shape"]))}, {train["device"]}, '
            f'{train["threads"]} threads); peak memory {train["peak_mem_mb"]:.0f} MB '
            f'({train["mem_kind"]}), training footprint {train["train_mem_mb"]:.0f} MB')
    elif train and train.get('error'):
        lines.append(f'training: not measured ({train["error"]})')
    return '\n'.join(lines)
