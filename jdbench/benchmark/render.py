"""Rendering: a :class:`~.aggregate.Leaderboard` as text, Markdown, CSV, JSON or a chart; the paired table;
cost records and cost comparisons as readable lines."""
import csv
import io
import json
import math
import os
import os.path as osp
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from prettytable import PrettyTable

from .aggregate import Leaderboard, Paired, Reference, Row, combine_summaries
from .records import FLOPS_COUNTER, Column, Stat

MISSING = '-'
EXPORT_FORMATS = ('md', 'csv', 'json', 'png')


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


def explanation(board: Leaderboard) -> List[str]:
    """The lines printed under the table: conventions, Δm and its references, incomplete rows, notes."""
    lines = [
        'Cells: mean ± sample std (ddof=1) over seeds; * / bold = best per column among the students '
        '(↑ higher is better, ↓ lower); † = averaged over fewer seeds than the row has.'
    ]
    if board.sort_by is not None:
        lines.append(f'Sorted by {board.sort_by.title} '
                     f'({"higher" if board.sort_by.direction > 0 else "lower"} is better).')
    for ref in board.references:
        parts = ', '.join(f'{m} = {v:.4g} ({src[0]}, {src[1]} seed{"s" if src[1] != 1 else ""})'
                          for m, v in ref.values.items() for src in [ref.sources[m]])
        lines.append(f'{ref.column.title}: Δm = 100/T · Σ_i s_i (M_i − B_i) / B_i over {len(ref.values)} '
                     f'metrics, s_i = +1 if higher is better else −1, B = single-task reference '
                     f'{ref.name!r}: {parts}. Positive = better than the reference; computed per seed, '
                     'then averaged.')
    if not board.references:
        lines.append('Δm: not shown (no single-task reference results; see --reference).')
    incomplete = [r for r in board.rows if not r.complete]
    if incomplete:
        lines.append('Incomplete: ' +
                     '; '.join(f'{r.method} ({len(r.seeds)} of {r.expected} seeds finished)'
                               for r in incomplete) + ' (Seeds column "n/m incomplete").')
    lines.extend(dict.fromkeys(board.notes))  # de-duplicated, in order
    return lines


def to_table(board: Leaderboard) -> PrettyTable:
    heads = headers(board)
    table = PrettyTable(heads)
    for row in board.rows:
        table.add_row(_cells(board, row, '{} *'))
    for h in heads[3:]:
        table.align[h] = 'r'
    table.align['Method'] = 'l'
    return table


def to_text(board: Leaderboard) -> str:
    """The table (best values marked ``*``) and the explanation under it."""
    return to_table(board).get_string() + '\n' + '\n'.join(explanation(board))


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


def to_dict(board: Leaderboard) -> dict:
    """Columns, references and rows with every statistic, and the notes."""
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
        notes=explanation(board))


def to_json(board: Leaderboard) -> str:
    return json.dumps(to_dict(board), indent=2, ensure_ascii=False, allow_nan=True)


def plot_leaderboard(board: Leaderboard, path: str, x: str = 'latency', y: str = 'delta_m',
                     figsize: Tuple[float, float] = (8.0, 5.0), dpi: int = 100) -> Optional[str]:
    """Scatter of two leaderboard columns (default Δm vs latency) with std error bars, one labelled point per
    method; None when no row has both columns."""
    from jdbench.visualization.curves import new_figure, save_figure
    try:
        cx, cy = board.column(x), board.column(y)
    except ValueError:
        return None
    rows = [
        r for r in board.rows if cx.key in r.values and cy.key in r.values and all(
            math.isfinite(r.values[c.key].mean) for c in (cx, cy))
    ]
    if not rows:
        return None
    fig = new_figure(figsize, dpi)
    ax = fig.subplots()
    for r in rows:
        sx, sy = r.values[cx.key], r.values[cy.key]
        ax.errorbar(
            sx.mean * cx.scale,
            sy.mean * cy.scale,
            xerr=(sx.std or 0) * cx.scale,
            yerr=(sy.std or 0) * cy.scale,
            fmt='o' if r.complete else 'x',
            capsize=3)
        ax.annotate(
            r.method + ('' if r.complete else ' (incomplete)'), (sx.mean * cx.scale, sy.mean * cy.scale),
            textcoords='offset points',
            xytext=(5, 5),
            fontsize='small')
    ax.set(xlabel=cx.header, ylabel=cy.header, title=f'{cy.title} vs {cx.title}')
    if cy.key.startswith('delta_m'):
        ax.axhline(0.0, color='grey', linewidth=0.8, linestyle='--')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def write_leaderboard(board: Leaderboard, path: str,
                      chart: Tuple[str, str] = ('latency', 'delta_m')) -> Optional[str]:
    """Write one export, the format from the extension (``.md``, ``.csv``, ``.json``, ``.png`` = chart).

    Returns the path, or None for a chart that has nothing to show (no row with both columns).
    """
    ext = path.rsplit('.', 1)[-1].lower()
    if ext not in EXPORT_FORMATS:
        raise ValueError(f'cannot export a leaderboard as {path!r}: use one of .{", .".join(EXPORT_FORMATS)}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if ext == 'png':
        return plot_leaderboard(board, path, x=chart[0], y=chart[1])
    writers: Mapping[str, Callable[[Leaderboard], str]] = dict(md=to_markdown, csv=to_csv, json=to_json)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(writers[ext](board))
    return path


def export_leaderboard(board: Leaderboard,
                       out_dir: str,
                       formats: Sequence[str] = EXPORT_FORMATS,
                       stem: str = 'leaderboard',
                       chart: Tuple[str, str] = ('latency', 'delta_m')) -> List[str]:
    """Write ``{out_dir}/{stem}.{md,csv,json,png}``; returns the files written."""
    written = [write_leaderboard(board, osp.join(out_dir, f'{stem}.{fmt}'), chart) for fmt in formats]
    return [p for p in written if p]


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
