"""From collected runs to a report: evaluate what has no metrics yet, measure missing costs, build the
leaderboard and the cost comparison. :func:`compare` is ``tools/test.py --compare``, :func:`compare_configs`
``tools/analyze_cost.py --compare``."""
import json
import os.path as osp
from dataclasses import replace
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .aggregate import (DEFAULT_LEVEL, DEFAULT_TEACHER_MARGIN, GapClosed, Leaderboard, build_leaderboard,
                        combine_summaries, cost_summary, gap_closed, per_class_scores)
from .child import CommandRunner, cost_command, log_tail, run_command, test_command
from .collect import MANIFEST, Collection, collect_items, split_compare_items
from .records import CostSettings, metric_columns
from .render import (DEFAULT_CHART, compare_costs, cost_conditions, export_leaderboard, format_cost, gap_lines,
                     paired_markdown, per_class_csv, per_class_markdown, per_class_text, to_text,
                     write_leaderboard)
from .rundir import read_metrics

#: The ``suite.json`` key of a suite's leaderboard metric columns (written only when the suite sets them).
LEADERBOARD_METRICS = 'leaderboard_metrics'


def evaluate_missing(col: Collection,
                     runner: CommandRunner = run_command,
                     log: Callable[[str], None] = print,
                     options: Optional[Mapping] = None) -> int:
    """Run ``tools/test.py`` for every run that has a checkpoint and a config but no metrics; returns how many
    were evaluated. Runs that cannot be evaluated keep their ``error``."""
    done = 0
    todo = [r for r in col.runs if r.metrics is None and r.checkpoint and r.metrics_path]
    for i, run in enumerate(todo, 1):
        if not run.config:
            run.error = (f'{run.checkpoint} has no config (none was dumped into {run.work_dir}); '
                         'pass CONFIG CHECKPOINT')
            continue
        log(f'[{i}/{len(todo)}] evaluating {run.method} seed {run.seed}: {run.checkpoint}')
        log_file = osp.join(osp.dirname(run.metrics_path), 'test_compare.log')
        rc = runner(
            test_command(run.config, run.checkpoint, run.metrics_path,
                         osp.join(osp.dirname(run.metrics_path), 'test'), options), log_file, lambda s: None)
        if rc == 0 and osp.isfile(run.metrics_path):
            run.metrics, run.error = read_metrics(run.metrics_path), None
            done += 1
        else:
            run.error = f'evaluation failed (exit {rc}); see {log_file}'
            log(f'    failed (exit {rc}); last lines of {log_file}:\n{log_tail(log_file)}')
    return done


def measure_missing_costs(col: Collection,
                          runner: CommandRunner = run_command,
                          log: Callable[[str], None] = print,
                          options: Optional[Mapping] = None,
                          methods: Optional[Sequence[str]] = None,
                          settings: CostSettings = CostSettings()) -> int:
    """Run ``tools/analyze_cost.py`` for methods whose ``cost.json`` is missing and whose config is known."""
    done = 0
    names = [
        m for m in (methods or col.cost_paths) if m in col.cost_paths and not osp.isfile(col.cost_paths[m])
    ]
    for name in names:
        config = col.cost_configs.get(name)
        if not config:
            continue
        log(f'measuring the cost of {name} ({config})')
        out = col.cost_paths[name]
        log_file = osp.join(osp.dirname(out), 'cost.log')
        rc = runner(cost_command(config, out, settings, options), log_file, lambda s: None)
        if rc == 0 and osp.isfile(out):
            done += 1
        else:
            log(f'    cost of {name} failed (exit {rc}); last lines of {log_file}:\n{log_tail(log_file)}')
    return done


def cost_summaries(col: Collection) -> Dict[str, dict]:
    return {name: cost_summary(rec) for name, rec in col.costs().items()}


def board_from_collection(col: Collection,
                          sort_by: Optional[str] = None,
                          references: Optional[Mapping[str, Sequence[str]]] = None,
                          dm_metrics: Optional[Sequence[str]] = None,
                          level: float = DEFAULT_LEVEL,
                          teacher_margin: Optional[Mapping] = None,
                          metrics: Optional[Sequence[str]] = None) -> Leaderboard:
    """The leaderboard of a collection (references and Δm metrics from the suite unless given; the teacher
    check with ``teacher_margin``, see :func:`~.aggregate.check_teachers`; ``metrics``: the metric columns,
    None for the default ones)."""
    notes = list(col.notes)
    for run in col.runs:
        if run.metrics is None:
            notes.append(f'{run.method} seed {run.seed}: no results ({run.error or "unknown"}).')
    refs = references if references is not None else col.references
    if not refs:
        names = {r.method for r in col.runs}
        if {'stl_seg', 'stl_depth'} <= names:
            refs = {'stl': ['stl_seg', 'stl_depth']}
    costs = cost_summaries(col)
    info = next(iter(col.costs().values()), None)
    if info:
        notes.append(cost_conditions(info))
    return build_leaderboard(col.runs, costs, refs, dm_metrics or col.dm_metrics, col.expected, sort_by,
                             notes, level, teacher_margin, metrics)


def cost_comparison(col: Collection) -> Tuple[List[str], Optional[dict]]:
    """The suite's cost comparison (subject vs reference groups), when it defines one and costs exist."""
    spec = col.cost_compare
    summaries = cost_summaries(col)
    if not spec or spec.get('subject') not in summaries:
        return [], None
    lines, data = compare_costs(spec['subject'], summaries, spec.get('groups') or {})
    records = col.costs()
    names = [spec['subject']] + [m for ms in (spec.get('groups') or {}).values() for m in ms]
    for name in dict.fromkeys(names):
        error = ((records.get(name) or {}).get('train') or {}).get('error')
        if error:
            lines.append(f'{name}: training cost not measured ({error}); see {col.cost_paths.get(name)}')
    return lines, data


def write_paired(board: Leaderboard, out_dir: str) -> List[str]:
    """``paired_<baseline>.md`` per paired comparison of the board."""
    written = []
    for cmp in board.paired:
        written.append(osp.join(out_dir, f'paired_{cmp.baseline}.md'))
        with open(written[-1], 'w', encoding='utf-8') as f:
            f.write(paired_markdown(cmp.pairs, cmp.reference, cmp.baseline, cmp.level))
    return written


def add_gap(board: Leaderboard, gap: Optional[Mapping]) -> Optional[GapClosed]:
    """With a suite's ``gap`` (``dict(low=..., high=..., metric='mIoU')``): the share of the gap each method
    closes (:func:`~.aggregate.gap_closed`), stated in the board's notes (so under the table of every format);
    a gap that cannot be computed becomes a note saying why. None without ``gap`` or on failure."""
    if not gap:
        return None
    try:
        result = gap_closed(board.runs, gap['low'], gap['high'], gap.get('metric', 'mIoU'), board.level)
    except ValueError as err:
        board.notes.append(f'Gap closed not computed: {err}')
        return None
    board.notes += gap_lines(result, {r.method: r.role for r in board.rows})
    return result


def write_gap(result: Optional[GapClosed], out_dir: str) -> List[str]:
    """``gap_closed.json``: the bounds and each method's mean, std, seeds and interval (percent)."""
    if result is None:
        return []
    path = osp.join(out_dir, 'gap_closed.json')
    data = dict(low=result.low, high=result.high, metric=result.metric, level=result.level,
                low_value=dict(mean=result.low_value.mean, std=result.low_value.std, n=result.low_value.n),
                high_value=dict(mean=result.high_value.mean, std=result.high_value.std, n=result.high_value.n),
                methods={m: dict(mean=st.mean, std=st.std, n=st.n, interval=result.interval(m))
                         for m, st in result.values.items()})
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2)
    return [path]


def per_class_report(board: Leaderboard) -> Tuple[str, List[str], Dict]:
    """``(text, methods, scores)`` of the runs' per-class IoU (``IoU.<class>`` metrics), methods in the board's
    order; ``('', [], {})`` when no run has them."""
    classes, scores = per_class_scores(board.runs)
    methods = [r.method for r in board.rows if r.method in scores]
    if not methods:
        return '', [], {}
    return per_class_text(classes, scores, methods), methods, dict(classes=classes, scores=scores)


def write_per_class(board: Leaderboard, out_dir: str) -> List[str]:
    """``per_class_iou.md`` and ``.csv`` (one row per method and class, full precision) when runs have them."""
    _, methods, data = per_class_report(board)
    if not methods:
        return []
    md, csv_path = osp.join(out_dir, 'per_class_iou.md'), osp.join(out_dir, 'per_class_iou.csv')
    with open(md, 'w', encoding='utf-8') as f:
        f.write(per_class_markdown(data['classes'], data['scores'], methods))
    with open(csv_path, 'w', encoding='utf-8') as f:
        f.write(per_class_csv(data['classes'], data['scores'], methods))
    return [md, csv_path]


def suite_report(col: Collection,
                 out_dir: str,
                 settings: Mapping,
                 teacher_margin: Optional[Mapping] = DEFAULT_TEACHER_MARGIN,
                 log: Callable[[str], None] = print,
                 gap: Optional[Mapping] = None) -> Leaderboard:
    """A suite's leaderboard, printed and written into ``out_dir``: ``leaderboard.txt``, the ``formats`` of
    its ``leaderboard`` settings (``sort_by``, ``formats``, ``chart``, ``paired``, ``level``, ``metrics``),
    ``paired_<M>.md`` and the cost comparison. A paired comparison that cannot be made becomes a note. With
    ``gap`` (the suite's), the share of the gap each method closes under the table (:func:`add_gap`) and
    ``gap_closed.json``; runs with per-class IoU add their table (printed, ``per_class_iou.{md,csv}``)."""
    board = board_from_collection(col, settings.get('sort_by'), level=settings.get('level', DEFAULT_LEVEL),
                                  teacher_margin=teacher_margin, metrics=settings.get('metrics'))
    for baseline in settings.get('paired') or []:
        try:
            board.add_paired(baseline)
        except ValueError as err:
            board.notes.append(f'Paired comparison vs {baseline} not made: {err}')
    closed = add_gap(board, gap)
    lines, data = cost_comparison(col)
    text = to_text(board, lines)
    per_class = per_class_report(board)[0]
    if per_class:
        text += '\n\n' + per_class
    log(text)
    files = export_leaderboard(board, out_dir, settings['formats'], chart=tuple(settings['chart']),
                               extra=lines)
    with open(osp.join(out_dir, 'leaderboard.txt'), 'w', encoding='utf-8') as f:
        f.write(text + '\n')
    files += write_paired(board, out_dir) + write_comparison(lines, data, out_dir)
    files += write_gap(closed, out_dir) + write_per_class(board, out_dir)
    log('written: ' + ', '.join(files + [osp.join(out_dir, 'leaderboard.txt')]))
    return board


def write_comparison(lines: List[str], data: Optional[dict], out_dir: str) -> List[str]:
    """``cost_comparison.txt`` and ``.json`` in ``out_dir``."""
    if not lines:
        return []
    txt, js = osp.join(out_dir, 'cost_comparison.txt'), osp.join(out_dir, 'cost_comparison.json')
    with open(txt, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(js, 'w') as f:
        json.dump(data, f, indent=2)
    return [txt, js]


# ------------------------------------------------------------------------------------------- --compare
def parse_references(items: Optional[Sequence[str]]) -> Optional[Dict[str, List[str]]]:
    """``['stl=stl_seg,stl_depth', 'a,b']`` -> ``{'stl': ['stl_seg', 'stl_depth'], 'a+b': ['a', 'b']}``."""
    refs = {}
    for item in items or []:
        name, sep, members = item.partition('=')
        if not sep:
            name, members = item.replace(',', '+'), item
        refs[name] = [m for m in members.split(',') if m]
    return refs or None


def suite_setting(items: Sequence[str], key: str, default=None):
    """A setting recorded in the ``suite.json`` of the first suite folder among ``items`` that has it."""
    for folder in split_compare_items(items)[0]:
        path = osp.join(folder, MANIFEST)
        if osp.isfile(path):
            with open(path) as f:
                try:
                    manifest = json.load(f)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path} is damaged ({err}); delete it and rerun the suite to rebuild '
                                     'it, or compare the run folders under it') from err
            if key in manifest:
                return manifest[key]
    return default


def compare(items: Sequence[str],
            sort_by: Optional[str] = None,
            references: Optional[Sequence[str]] = None,
            dm_metrics: Optional[Sequence[str]] = None,
            paired: Optional[Sequence[str]] = None,
            out_dir: Optional[str] = None,
            export: Optional[Sequence[str]] = None,
            evaluate: bool = True,
            costs: bool = True,
            options: Optional[Mapping] = None,
            log: Callable[[str], None] = print,
            html: Optional[str] = None,
            level: float = DEFAULT_LEVEL,
            metrics: Optional[Sequence[str]] = None,
            gap: Optional[Mapping] = None) -> Leaderboard:
    """The leaderboard of the runs under ``items`` (folders, ``CONFIG.py CKPT.pth ...`` groups), printed with
    ``log`` and exported; runs without metrics are evaluated and missing costs measured (parameters, FLOPs,
    latency; no training step) unless ``evaluate``/``costs`` say otherwise. ``paired`` adds a per-seed Δm
    table against each named method, with a Student-t interval at ``level`` and a sign test, and states under
    the table which methods are separated from it. ``html``: also write the page there. The teacher check uses
    the suite's ``teacher_margin`` (from ``suite.json``), else the default. ``metrics``: the metric columns
    (keys or aliases, in order); None: the suite's (``leaderboard.metrics``, recorded in ``suite.json``), else
    the default columns. ``gap``: ``dict(low=..., high=..., metric=...)``, the share of that gap each method
    closes under the table (:func:`add_gap`); None: the suite's (``gap``, recorded in ``suite.json``), else
    none. Runs with per-class IoU add their table. Raises ValueError / FileNotFoundError for bad input."""
    col = collect_items(items)
    teacher_margin = suite_setting(items, 'teacher_margin', DEFAULT_TEACHER_MARGIN)
    metrics = metrics or suite_setting(items, LEADERBOARD_METRICS)
    gap = gap or suite_setting(items, 'gap')
    metric_columns(metrics)  # an unknown name fails before anything is evaluated
    if evaluate:
        evaluate_missing(col, options=options, log=log)
        if costs:
            measure_missing_costs(col, options=options, log=log, settings=CostSettings(train=False))
    if not any(r.metrics for r in col.runs):
        why = '; '.join(sorted({f'{r.method}: {r.error}' for r in col.runs}))
        raise ValueError(f'no run has results to compare ({why})')
    board = board_from_collection(col, sort_by, parse_references(references), dm_metrics, level,
                                  teacher_margin, metrics)
    for baseline in paired or []:
        if not board.references:
            raise ValueError('--paired needs a Δm reference (--reference stl=stl_seg,stl_depth)')
        board.add_paired(baseline)
    closed = add_gap(board, gap)
    lines, _ = cost_comparison(col)
    log(to_text(board, lines))
    per_class = per_class_report(board)[0]
    if per_class:
        log('\n' + per_class)
    for cmp in board.paired:
        log('\n' + paired_markdown(cmp.pairs, cmp.reference, cmp.baseline, cmp.level))
    written = export_leaderboard(board, out_dir, extra=lines) if out_dir else []
    written += write_paired(board, out_dir) if out_dir else []
    written += write_gap(closed, out_dir) + write_per_class(board, out_dir) if out_dir else []
    written += [p for p in (write_leaderboard(board, f, DEFAULT_CHART, lines) for f in export or []) if p]
    if html:
        written.append(write_leaderboard(board, html, DEFAULT_CHART, lines))
    if written:
        log('written: ' + ', '.join(written))
    return board


def compare_configs(groups: Mapping[str, Sequence[str]],
                    settings: CostSettings = CostSettings(),
                    cfg_options: Optional[Mapping] = None,
                    log: Callable[[str], None] = print) -> dict:
    """Cost of every config of the groups (name -> configs used together), latencies measured interleaved over
    all of them, and the ratios of the first group (the subject, the deployed student) to the others."""
    from .measure import analyze_config, build_for_cost, deployed_model, measure_latencies
    records = {}
    for cfgs in groups.values():
        for cfg in cfgs:
            if cfg not in records:
                log(f'measuring {cfg} ...')
                records[cfg] = analyze_config(cfg, None, cfg_options, replace(settings, latency=False))
    if settings.latency:
        log(f'measuring the latencies of {len(records)} models, interleaved ...')
        size = settings.input_size or next(iter(records.values()))['input_size']
        models = {cfg: deployed_model(build_for_cost(cfg, cfg_options)[1]) for cfg in records}
        for cfg, lat in measure_latencies(models, (3, *size), settings).items():
            records[cfg]['latency'] = lat
    for rec in records.values():
        log(format_cost(rec) + '\n')
    subject = next(iter(groups))
    summaries = {name: combine_summaries([cost_summary(records[c]) for c in cfgs])
                 for name, cfgs in groups.items()}
    lines, data = compare_costs(subject, summaries, {name: [name] for name in list(groups)[1:]})
    members = {name: ' + '.join(osp.splitext(osp.basename(c))[0] for c in cfgs)
               for name, cfgs in groups.items()}
    mem_kind = next(iter(records.values())).get('train', {}).get('mem_kind', 'n/a')
    log(f'Comparison (training memory: {mem_kind}):')
    for line in lines:
        for name, desc in members.items():
            line = line.replace(f' vs {name}:', f' vs {name} ({desc}):') if desc != name else line
        log('  ' + line)
    return dict(models=records, groups={n: list(c) for n, c in groups.items()}, comparison=data, lines=lines)
