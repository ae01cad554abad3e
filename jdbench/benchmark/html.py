"""The leaderboard as one self-contained HTML page (``leaderboard.html``) that works offline.

Everything is inside the file: the style, a small vanilla script that sorts the table by a clicked column
(first click: best first, by the column's direction; again: reversed; rows without a value stay last), the
charts and every run's training curves (``loss_curves.png``, ``omega.png`` from its work dir, written by
``TrainingPlotHook``) as base64 PNGs. Links to each run's config are relative to the page. Every text is
escaped. Opening ``leaderboard.html#sort=<column key>`` sorts by that column (``&clicks=2``: reversed).
"""
import base64
import html
import io
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .aggregate import Leaderboard, Row, half_width
from .records import Column, RunRecord
from .render import (DEFAULT_CHART, MISSING, chart_figure, explanation, footer, format_value, interval_text,
                     paired_lines, reference_lines, signed)

#: The pictures of a run's work dir shown on the page (``TrainingPlotHook``'s files).
RUN_PICTURES = (('loss_curves.png', 'losses'), ('omega.png', 'loss weights ω'))
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th button { font: inherit; font-weight: bold; background: none; border: none; cursor: pointer; padding: 0; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
tr.teacher td { background: #fff4f2; } tr.reference td { background: #f4f4f4; }
.warning { color: #8a1c00; background: #fff0e8; border-left: 4px solid #d9480f; padding: 0.4em 0.8em; }
#page-errors { color: #b00; } .scroll { overflow-x: auto; }
img { max-width: 100%; height: auto; } .curves img { max-width: 48%; }
details { margin: 0.4em 0; } summary { cursor: pointer; font-weight: bold; }
"""

SCRIPT = """
(function () {
  'use strict';
  var table = document.getElementById('leaderboard');
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function value(row, index, numeric) {
    var v = row.cells[index].getAttribute('data-value');
    if (v === null || v === '') { return null; }
    return numeric ? parseFloat(v) : v;
  }
  function sortBy(th, descending) {
    var index = th.cellIndex, numeric = th.getAttribute('data-type') === 'num';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, index, numeric), y = value(b, index, numeric);
      if (x === null || y === null) { return (x === null) - (y === null); }  /* missing values last */
      var c = numeric ? x - y : String(x).localeCompare(String(y));
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h) { h.setAttribute('aria-sort', 'none'); });
    th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
    table.setAttribute('data-sorted-by', th.getAttribute('data-key'));
  }
  function toggle(th) {  /* first click: best first (the column's direction); again: reversed */
    var state = th.getAttribute('aria-sort');
    if (state === 'ascending' || state === 'descending') { sortBy(th, state === 'ascending'); return; }
    sortBy(th, parseInt(th.getAttribute('data-direction'), 10) > 0);
  }
  heads.forEach(function (th) {
    th.querySelector('button').addEventListener('click', function () { toggle(th); });
  });
  var params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  if (params.has('sort')) {
    var th = heads.filter(function (h) { return h.getAttribute('data-key') === params.get('sort'); })[0];
    if (!th) { throw new Error('no column ' + params.get('sort') + ' to sort by'); }
    var clicks = parseInt(params.get('clicks') || '1', 10);
    for (var i = 0; i < clicks; i++) { th.querySelector('button').click(); }
  }
})();
"""

ERROR_CATCHER = """
window.addEventListener('error', function (e) {
  var p = document.getElementById('page-errors');
  p.hidden = false;
  p.textContent += 'error: ' + e.message + ' (line ' + e.lineno + ')\\n';
});
"""


def esc(text) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return html.escape(str(text), quote=True)


def png_uri(data: bytes) -> str:
    return 'data:image/png;base64,' + base64.b64encode(data).decode('ascii')


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, dpi=fig.dpi, format='png')
    return buf.getvalue()


def read_png(path: str) -> Optional[bytes]:
    """A PNG file's bytes, None when it is missing or not a PNG."""
    if not osp.isfile(path):
        return None
    with open(path, 'rb') as f:
        data = f.read()
    return data if data.startswith(PNG_MAGIC) else None


def relative_link(target: str, page_dir: str) -> str:
    """``href`` of a local file, relative to the page's folder, URL-quoted."""
    from urllib.parse import quote
    try:
        rel = osp.relpath(osp.abspath(target), osp.abspath(page_dir))
    except ValueError:  # another drive (Windows)
        rel = osp.abspath(target)
    return quote(rel.replace(os.sep, '/'))


# ------------------------------------------------------------------------------------------------ parts
def _th(key: str, title: str, direction: int, numeric: bool) -> str:
    kind = 'num' if numeric else 'text'
    return (f'<th data-key="{esc(key)}" data-direction="{direction}" data-type="{kind}" aria-sort="none">'
            f'<button type="button">{esc(title)}</button></th>')


def _num(value: Optional[float]) -> str:
    return '' if value is None or not math.isfinite(value) else repr(float(value))


def _cell(board: Leaderboard, row: Row, col: Column) -> str:
    stat = row.values.get(col.key)
    text = format_value(stat, col) + ('†' if col.key in row.partial else '')
    title = ''
    h = half_width(stat, board.level) if stat is not None else None
    if h is not None:
        lo, hi = (stat.mean - h) * col.scale, (stat.mean + h) * col.scale
        title = (f' title="{board.level * 100:g}% t-interval of the mean over {stat.n} seeds: '
                 f'[{lo:.{col.decimals}f}, {hi:.{col.decimals}f}]"')
    inner = f'<strong>{esc(text)}</strong>' if col.key in row.best else esc(text)
    return f'<td class="num" data-value="{_num(stat.mean if stat else None)}"{title}>{inner}</td>'


def table_html(board: Leaderboard) -> str:
    """The sortable table: rank, method, role, seeds, the table's columns and the chart-only ones."""
    cols = board.columns + board.extra_columns
    heads = [_th('rank', 'Rank', -1, True), _th('method', 'Method', 0, False), _th('role', 'Role', 0, False),
             _th('seeds', 'Seeds', 1, True)] + [_th(c.key, c.header, c.direction, True) for c in cols]
    rows = []
    for row in board.rows:
        rank, name = '' if row.rank is None else str(row.rank), esc(row.method)
        cells = [
            f'<td class="num" data-value="{rank}">{esc(rank or MISSING)}</td>',
            f'<td data-value="{name}"><a href="#runs-{name}">{name}</a></td>',
            f'<td data-value="{esc(row.role)}">{esc(row.role)}</td>',
            f'<td class="num" data-value="{len(row.seeds)}">{esc(row.seeds_cell)}</td>',
        ] + [_cell(board, row, c) for c in cols]
        rows.append(f'<tr class="{esc(row.role)}" data-method="{name}">' + ''.join(cells) + '</tr>')
    return ('<table id="leaderboard"><thead><tr>' + ''.join(heads) + '</tr></thead><tbody>\n' +
            '\n'.join(rows) + '\n</tbody></table>')


def paired_html(board: Leaderboard) -> str:
    """One table per paired comparison, with the separated / not separated statement."""
    parts = []
    for cmp in board.paired:
        pct = f'{cmp.level * 100:g}%'
        rows = []
        for p in cmp.pairs:
            per = ', '.join(f'{s}: {signed(d)}' for s, d in p.diffs.items())
            st = p.stat
            rows.append('<tr>' + ''.join(
                (f'<td class="num">{esc(v)}</td>' if i else f'<td>{esc(v)}</td>') for i, v in enumerate([
                    p.method,
                    len(p.diffs), per, signed(st.mean) + (f' ± {st.std:.2f}' if st.std is not None else ''),
                    f'{p.wins}/{len(p.diffs)}',
                    interval_text(p, cmp.level), f'{p.sign_p:.3g}', 'yes' if p.separated(cmp.level) else 'no'
                ])) + '</tr>')
        head = ''.join(f'<th>{esc(h)}</th>' for h in [
            'Method', 'Seeds', f'Δm − Δm({cmp.baseline}) per seed', 'Mean ± std', 'Better in',
            f'{pct} interval', 'Sign test p', f'Separated at {pct}'
        ])
        lines = ''.join(f'<li>{esc(line)}</li>' for line in paired_lines(cmp))
        parts.append(f'<h3>Paired vs {esc(cmp.baseline)}</h3><table class="paired"><thead><tr>{head}</tr>'
                     f'</thead><tbody>{"".join(rows)}</tbody></table><ul>{lines}</ul>')
    return ''.join(parts)


def charts_html(board: Leaderboard, chart: Tuple[str, str]) -> str:
    """The chart of every Δm column (or of the configured y) against the configured x, embedded."""
    x, y = chart
    ys = [r.column.key for r in board.references] if y.startswith('delta_m') and board.references else [y]
    ys = [y] + [k for k in ys if k != y] if y in ys else ys
    imgs = []
    for key in ys:
        fig = chart_figure(board, x, key)
        if fig is not None:
            src = png_uri(figure_png(fig))
            imgs.append(f'<figure><img alt="{esc(key)} vs {esc(x)}" src="{src}"></figure>')
    return ''.join(imgs) or f'<p>No chart: no row has {esc(y)}.</p>'


def runs_html(runs: Sequence[RunRecord], page_dir: str) -> str:
    """Per method, per seed: the config link, the state and the training curves of the work dir."""
    by_method: Dict[str, List[RunRecord]] = {}
    for run in runs:
        by_method.setdefault(run.method, []).append(run)
    parts = []
    for method, mruns in by_method.items():
        items = []
        for run in mruns:
            bits = [f'<b>seed {esc(run.seed)}</b>']
            if run.config:
                bits.append(f'<a href="{esc(relative_link(run.config, page_dir))}">config '
                            f'({esc(osp.basename(run.config))})</a>')
            if run.work_dir:
                bits.append(f'work dir <code>{esc(run.work_dir)}</code>')
            if run.metrics is None:
                bits.append(f'no results: {esc(run.error or "unknown")}')
            pics = []
            for name, what in RUN_PICTURES:
                data = read_png(osp.join(run.work_dir, name)) if run.work_dir else None
                if data:
                    alt = esc(f'{method} seed {run.seed}: {what}')
                    pics.append(f'<img alt="{alt}" src="{png_uri(data)}">')
            curves = f'<div class="curves">{"".join(pics)}</div>' if pics else ''
            items.append('<li>' + ' · '.join(bits) + curves + '</li>')
        parts.append(f'<details id="runs-{esc(method)}"><summary>{esc(method)} ({len(mruns)} '
                     f'run{"s" if len(mruns) != 1 else ""})</summary><ul>{"".join(items)}</ul></details>')
    return ''.join(parts)


def to_html(board: Leaderboard,
            page_dir: str = '.',
            chart: Tuple[str, str] = DEFAULT_CHART,
            extra: Sequence[str] = (),
            title: str = 'jdbench leaderboard') -> str:
    """The page. ``page_dir``: where it is written (the config links are relative to it); ``extra``: further
    lines shown after the notes (e.g. the cost comparison)."""
    refs = ''.join(f'<p>{esc(line)}</p>' for line in reference_lines(board))
    shown = set(reference_lines(board)) | set(footer(board)) | {
        line for cmp in board.paired for line in paired_lines(cmp)}
    notes = ''.join(f'<li>{esc(line)}</li>' for line in explanation(board) if line not in shown)
    extra_html = ('<h2>Cost comparison</h2><ul>' + ''.join(f'<li>{esc(line)}</li>'
                                                            for line in extra) + '</ul>' if extra else '')
    paired = paired_html(board) or '<p>None requested (--paired / leaderboard.paired).</p>'
    warnings = ''.join(f'<p class="warning">{esc(line)}</p>' for line in footer(board))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<pre id="page-errors" hidden></pre>
<script>{ERROR_CATCHER}</script>
<h1>{esc(title)}</h1>
<section id="reference"><h2>Δm reference</h2>{refs}</section>
<section id="table"><h2>Leaderboard</h2>
<p>Click a column header to sort (best first; again: reversed). Hover a cell for its interval over seeds.</p>
<div class="scroll">{table_html(board)}</div>
<ul class="notes">{notes}</ul>{extra_html}</section>
<section id="paired"><h2>Paired comparison</h2>{paired}</section>
<section id="charts"><h2>Charts</h2>{charts_html(board, chart)}</section>
<section id="runs"><h2>Runs</h2>{runs_html(board.runs, page_dir)}</section>
<footer id="warnings">{warnings}</footer>
<script>{SCRIPT}</script>
</body>
</html>
"""


def write_html(board: Leaderboard, path: str, chart: Tuple[str, str] = DEFAULT_CHART,
               extra: Sequence[str] = ()) -> str:
    """Write :func:`to_html` to ``path``; returns the path."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    page = to_html(board, osp.dirname(osp.abspath(path)), chart, extra)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(page)
    return path
