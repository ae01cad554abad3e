"""From collected runs to a report: evaluate what has no metrics yet, measure missing costs, build the
leaderboard and the cost comparison."""
import json
import os.path as osp
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .collect import Collection, read_metrics
from .commands import CommandRunner, cost_command, log_tail, run_command, test_command
from .cost import compare_costs, cost_conditions, cost_summary
from .leaderboard import Leaderboard, build_leaderboard


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
                          **cost_kwargs) -> int:
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
        rc = runner(cost_command(config, out, options, **cost_kwargs), log_file, lambda s: None)
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
                          dm_metrics: Optional[Sequence[str]] = None) -> Leaderboard:
    """The leaderboard of a collection (references and Δm metrics from the suite unless given)."""
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
                             notes)


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
