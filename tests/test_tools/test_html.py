"""leaderboard.html: a self-contained page (escaped, embedded pictures, relative config links), checked as
text and in a real headless Chromium (sorting a column, no console error); ``tools/test.py --compare --html``."""
import base64
import html.parser
from html import escape
import importlib.util
import json
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys

import pytest

from jdbench.benchmark.aggregate import build_leaderboard
from jdbench.benchmark.html import to_html, write_html
from jdbench.benchmark.records import RunRecord
from jdbench.visualization.curves import new_figure, save_figure

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFS = {'stl': ['stl_seg', 'stl_depth']}


def _png(path, colour):
    fig = new_figure((2.0, 1.5), 50)
    fig.subplots().plot([0, 1], [0, 1], color=colour)
    return save_figure(fig, str(path))


def _runs(tmp_path):
    """Two references, mtl (Δm 0), jd (Δm +5 / -2.5), a teacher, and a method whose name needs escaping; jd's
    work dirs hold a config and TrainingPlotHook's pictures."""
    runs = []
    for seed in (0, 1):
        wd = tmp_path / 'out' / 'jd' / f'seed{seed}'
        wd.mkdir(parents=True)
        (wd / 'jd_synthdrive.py').write_text("model = dict(type='JointDistill')\n")
        _png(wd / 'loss_curves.png', 'red')
        _png(wd / 'omega.png', 'blue')
        runs.append(str(wd))
    return [
        RunRecord('stl_seg', 0, dict(mIoU=50.0, pixel_acc=80.0), role='reference'),
        RunRecord('stl_depth', 0, dict(abs_err=1.0, rel_err=0.2, d1=0.8), role='reference'),
        RunRecord('mtl', 0, dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2, d1=0.8)),
        RunRecord('mtl', 1, dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2, d1=0.8)),
        RunRecord('jd', 0, dict(mIoU=60.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2, d1=0.9),
                  work_dir=runs[0], config=osp.join(runs[0], 'jd_synthdrive.py')),
        RunRecord('jd', 1, dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.22, d1=0.7),
                  work_dir=runs[1], config=osp.join(runs[1], 'jd_synthdrive.py')),
        RunRecord('<img src=x onerror=alert(1)>', 0, dict(mIoU=40.0, pixel_acc=70.0, abs_err=1.2,
                                                          rel_err=0.3)),
        RunRecord('teacher_depth', 0, dict(abs_err=0.99, rel_err=0.18), role='teacher'),
    ]


COSTS = dict(mtl=dict(train_time=0.05, latency=5.0), jd=dict(train_time=0.12, latency=5.1),
             stl_seg=dict(train_time=0.04), stl_depth=dict(train_time=0.04),
             teacher_depth=dict(train_time=0.08))


@pytest.fixture
def board(tmp_path):
    board = build_leaderboard(_runs(tmp_path), costs=COSTS, references=REFS,
                              teacher_margin=dict(relative=0.05))
    board.add_paired('mtl')
    return board


def test_page_is_self_contained_escaped_and_complete(board, tmp_path):
    page_path = write_html(board, str(tmp_path / 'site' / 'leaderboard.html'), extra=['jd vs mtl: 2x slower'])
    page = open(page_path, encoding='utf-8').read()
    assert not re.search(r'(src|href)="(https?:)?//', page) and '<link' not in page  # nothing fetched
    assert '<img src=x' not in page and '&lt;img src=x onerror=alert(1)&gt;' in page  # escaped
    assert escape("B = single-task reference 'stl': mIoU = 50 (stl_seg, 1 seed)") in page  # the Δm reference
    assert 'Separated from mtl at 95%' in page and '<h3>Paired vs mtl</h3>' in page
    assert '[-46.40, +48.90]' in page  # jd: +1.25 ± 5.30 over 2 seeds, t_{0.975, 1} = 12.706
    assert 'jd vs mtl: 2x slower' in page
    footer = page[page.index('<footer id="warnings">'):]
    assert 'WARNING: teacher teacher_depth is not ahead of its single-task reference' in footer
    assert 'abs_err 0.99 vs 1 (stl_depth): 1.0% better' in footer
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 1 + 4  # the Δm chart, and loss + ω curves of jd's two seeds
    assert all(base64.b64decode(i)[:8] == b'\x89PNG\r\n\x1a\n' for i in images)
    original = open(osp.join(board.runs[4].work_dir, 'omega.png'), 'rb').read()
    assert base64.b64encode(original).decode() in images
    href = '../out/jd/seed0/jd_synthdrive.py'  # relative to the page's folder
    assert f'href="{href}"' in page and osp.isfile(osp.join(tmp_path, 'site', href))
    heads = re.findall(r'<th data-key="([^"]+)" data-direction="(-?\d)"', page)
    assert heads[:4] == [('rank', '-1'), ('method', '0'), ('role', '0'), ('seeds', '1')]
    assert ('train_time', '-1') in heads and ('delta_m', '1') in heads and ('abs_err', '-1') in heads


def test_page_without_references_or_curves(tmp_path):
    board = build_leaderboard([RunRecord('a', 0, dict(mIoU=1.0)), RunRecord('b', 0, dict(mIoU=2.0))])
    page = to_html(board, str(tmp_path))
    assert 'Δm: not shown' in page and 'No chart: no row has delta_m' in page
    assert 'None requested' in page and '<footer id="warnings"></footer>' in page


# ---------------------------------------------------------------------------------------- in a browser
def _chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        path = shutil.which(name)
        if path:
            return path
    reason = ('Chromium is not installed, so leaderboard.html cannot be tested in a browser (.ci/run '
              'installs it: apt-get install chromium)')
    if os.environ.get('JDBENCH_REQUIRE_BROWSER'):
        pytest.fail(reason + '; JDBENCH_REQUIRE_BROWSER is set')
    pytest.skip(reason)


class _Dom(html.parser.HTMLParser):
    """The table's row order, its attributes and the page's error box from a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.rows, self.table, self.heads, self.errors, self._in_errors = [], {}, {}, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'table' and attrs.get('id') == 'leaderboard':
            self.table = attrs
        elif tag == 'tr' and 'data-method' in attrs:
            self.rows.append(attrs['data-method'])
        elif tag == 'th' and 'data-key' in attrs:
            self.heads[attrs['data-key']] = attrs.get('aria-sort')
        elif tag == 'pre' and attrs.get('id') == 'page-errors':
            self.errors, self._in_errors = '', True

    def handle_endtag(self, tag):
        self._in_errors = self._in_errors and tag != 'pre'

    def handle_data(self, data):
        if self._in_errors:
            self.errors += data


def _open(chromium, page, fragment, tmp_path):
    """Load ``page#fragment`` headless; returns the parsed DOM after the scripts ran and the console lines."""
    cmd = [chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--no-first-run', f'--user-data-dir={tmp_path / "profile"}', '--enable-logging=stderr', '--v=0',
           '--dump-dom', f'file://{page}#{fragment}']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the browser and its helpers: the group this test started
        proc.communicate()
        pytest.fail(f'{chromium} did not finish loading {page} in 120 s')
    assert proc.returncode == 0, err[-2000:]
    dom = _Dom()
    dom.feed(out)
    return dom, [line for line in err.splitlines() if ':CONSOLE' in line]


def test_page_sorts_in_a_real_browser_without_console_errors(board, tmp_path):
    chromium = _chromium()
    page = write_html(board, str(tmp_path / 'leaderboard.html'))
    # as built: by Δm (jd +1.25, mtl 0, the escaped method -25.6), then the rows without Δm in their order
    escaped = '<img src=x onerror=alert(1)>'
    dom, console = _open(chromium, page, '', tmp_path)
    assert console == [] and dom.errors == ''
    assert dom.rows == ['jd', 'mtl', escaped, 'stl_seg', 'stl_depth', 'teacher_depth']

    # one click on "Abs err ↓": lowest first (teacher 0.99, then the 1.0 ties in order), rows without it last
    dom, console = _open(chromium, page, 'sort=abs_err', tmp_path)
    assert console == [] and dom.errors == ''
    assert dom.table['data-sorted-by'] == 'abs_err' and dom.heads['abs_err'] == 'ascending'
    assert dom.rows == ['teacher_depth', 'jd', 'mtl', 'stl_depth', escaped, 'stl_seg']
    # a second click reverses; rows without a value stay last
    dom, console = _open(chromium, page, 'sort=abs_err&clicks=2', tmp_path)
    assert console == [] and dom.heads['abs_err'] == 'descending'
    assert dom.rows == [escaped, 'jd', 'mtl', 'stl_depth', 'teacher_depth', 'stl_seg']
    # mIoU: highest first; a text column: alphabetical
    dom, _ = _open(chromium, page, 'sort=mIoU', tmp_path)
    assert dom.rows == ['jd', 'mtl', 'stl_seg', escaped, 'stl_depth', 'teacher_depth']
    dom, _ = _open(chromium, page, 'sort=method', tmp_path)
    assert dom.rows == sorted(dom.rows, key=str.lower) and dom.rows[0] == escaped

    # the check can fail: a script error shows on the console and in the page's error box
    dom, console = _open(chromium, page, 'sort=no_such_column', tmp_path)
    assert any('Uncaught Error: no column no_such_column to sort by' in line for line in console)
    assert 'no column no_such_column' in dom.errors


# ------------------------------------------------------------------------------------------------- CLI
def test_compare_writes_the_page(tmp_path, monkeypatch, capsys):
    out = tmp_path / 'out'
    for method, seed, metrics in (('stl_seg', 0, dict(mIoU=50.0, pixel_acc=80.0)),
                                  ('stl_depth', 0, dict(abs_err=1.0, rel_err=0.2)),
                                  ('mtl', 0, dict(mIoU=50.0, pixel_acc=80.0, abs_err=1.0, rel_err=0.2)),
                                  ('jd', 0, dict(mIoU=55.0, pixel_acc=80.0, abs_err=0.9, rel_err=0.2))):
        os.makedirs(out / method / f'seed{seed}')
        with open(out / method / f'seed{seed}' / 'metrics.json', 'w') as f:
            json.dump(metrics, f)
    spec = importlib.util.spec_from_file_location('jdbench_tool_test_html',
                                                  osp.join(ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', ['tools/test.py', '--compare', str(out), '--paired', 'mtl', '--no-eval',
                                      '--out-dir', str(tmp_path / 'board'), '--html', '--level', '0.9'])
    assert tool.main() == 0
    page = (tmp_path / 'board' / 'leaderboard.html').read_text(encoding='utf-8')
    assert '<h3>Paired vs mtl</h3>' in page
    assert 'Not separated from mtl at 90%: jd +5.00 (1 seed: no interval)' in page
    assert 'written: ' in capsys.readouterr().out
    monkeypatch.setattr(sys, 'argv', ['tools/test.py', '--compare', str(out), '--no-eval',
                                      '--html', str(tmp_path / 'elsewhere.html')])
    assert tool.main() == 0 and (tmp_path / 'elsewhere.html').is_file()
