"""Evaluate a checkpoint with the standard jdbench metric, or compare many runs in a leaderboard.

One checkpoint (a full-model checkpoint, or the student-only ``final.pth`` of a distiller run)::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--metrics-out FILE.json]
                         [--cfg-options ...] [--launcher pytorch]

Comparison (suite output folders, work dirs, ``<method>/seed<k>/`` folders, or CONFIG.py CKPT.pth [CKPT.pth
...] groups; stored ``metrics.json`` are reused, the rest evaluated)::

    python tools/test.py --compare OUT [OUT2 ...] [--sort-by delta_m] [--reference stl=stl_seg,stl_depth]
                         [--paired mtl] [--out-dir DIR] [--export board.md board.csv] [--no-eval]
                         [--cfg-options ...]

``--paired M`` adds, for every method, its Δm minus M's at each seed both ran (same seed: same student
initialisation and data order), which separates methods that the mean ± std over seeds cannot.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from typing import List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from jdbench.utils.runner_utils import DictAction, load_config, set_local_rank  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Evaluate a jdbench checkpoint, or compare many runs (--compare)',
        usage='%(prog)s CONFIG CHECKPOINT [options]\n       %(prog)s --compare PATH [PATH ...] [options]')
    parser.add_argument('config', nargs='?', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and results go (default work_dirs/<config name>)')
    parser.add_argument('--show-dir', help='save prediction pictures into this folder (under the work dir)')
    parser.add_argument('--metrics-out', help='write the metrics as JSON to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    cmp = parser.add_argument_group('comparison mode')
    cmp.add_argument(
        '--compare',
        nargs='+',
        metavar='PATH',
        help='suite output folders, work dirs, <method>/seed<k>/ folders, or CONFIG.py CKPT.pth '
        '[CKPT.pth ...] groups')
    cmp.add_argument(
        '--sort-by', help='column to rank by (key, title or alias: delta_m, mIoU, abs_err, latency...)')
    cmp.add_argument(
        '--reference',
        action='append',
        metavar='[NAME=]M1,M2',
        help='Δm reference models (the first given is "Δm"), e.g. stl=stl_seg,stl_depth; '
        'default: the suite\'s, else stl_seg,stl_depth when present')
    cmp.add_argument(
        '--dm-metrics',
        nargs='+',
        help='metrics Δm averages over (default mIoU pixel_acc abs_err '
        'rel_err)')
    cmp.add_argument(
        '--paired',
        nargs='+',
        metavar='METHOD',
        help='also compare every method with these, seed by seed (Δm differences on shared seeds)')
    cmp.add_argument('--out-dir', help='write leaderboard.{md,csv,json,png} here')
    cmp.add_argument('--export', nargs='+', metavar='FILE', help='write these files (.md, .csv, .json, .png)')
    cmp.add_argument('--no-eval', action='store_true', help='use stored metrics/costs only; evaluate nothing')
    cmp.add_argument('--no-cost', action='store_true', help='do not measure missing costs')
    args = parser.parse_args()
    if args.compare:
        if args.config or args.checkpoint:
            parser.error('give either CONFIG CHECKPOINT or --compare PATH ..., not both')
    elif not (args.config and args.checkpoint):
        parser.error('the following arguments are required: CONFIG CHECKPOINT (or use --compare PATH ...)')
    set_local_rank(args.local_rank)
    return args


# ------------------------------------------------------------------------------------------- one checkpoint
def test_one(args: argparse.Namespace) -> int:
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import jdbench
    from jdbench.benchmark.config_utils import sync_teacher_dir, weights_target
    from jdbench.utils import check_state_dict_matches, load_state_dict_checked
    jdbench.register_all_modules(init_default_scope=False)
    try:
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
        state_dict = load_state_dict_checked(args.checkpoint)
    except (FileNotFoundError, RuntimeError) as err:  # missing config / missing or damaged checkpoint
        print(f'error: {err}', file=sys.stderr)
        return 2
    sync_teacher_dir(cfg)
    if args.show_dir:
        vis = cfg.default_hooks.setdefault('visualization', dict(type='SegVisualizationHook'))
        vis.update(draw=True, interval=1)
        cfg.visualizer.save_dir = args.show_dir
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    target, where = weights_target(model, state_dict)
    try:
        check_state_dict_matches(target, state_dict, args.checkpoint)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if where == 'model':
        runner.load_checkpoint(args.checkpoint, map_location='cpu')
    else:  # a distiller's student-only export
        target.load_state_dict(state_dict, strict=False)
        runner.logger.info(f'student-only checkpoint {args.checkpoint} loaded into the distiller\'s student')
    metrics = runner.test()
    if args.metrics_out:
        os.makedirs(osp.dirname(osp.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
        runner.logger.info(f'metrics written to {args.metrics_out}')
    return 0


# --------------------------------------------------------------------------------------------- comparison
def _checkpoint_groups(items: List[str]):
    """Split ``--compare`` items into folders and (config, [checkpoints]) groups."""
    folders, groups, i = [], [], 0
    while i < len(items):
        item = items[i]
        if item.endswith('.py'):
            ckpts = []
            while i + 1 < len(items) and items[i + 1].endswith('.pth'):
                i += 1
                ckpts.append(items[i])
            if not ckpts:
                raise ValueError(f'config {item} needs a checkpoint after it: --compare {item} CKPT.pth')
            groups.append((item, ckpts))
        elif item.endswith('.pth'):
            raise ValueError(f'checkpoint {item} needs its config before it: --compare CONFIG.py {item}')
        else:
            folders.append(item)
        i += 1
    return folders, groups


def _group_collection(config: str, ckpts: List[str]):
    from jdbench.benchmark.collect import Collection, read_metrics
    from jdbench.benchmark.leaderboard import RunRecord
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r} not found')
    method = osp.splitext(osp.basename(config))[0]
    col = Collection()
    for k, ckpt in enumerate(ckpts):
        if not osp.isfile(ckpt):
            raise FileNotFoundError(f'checkpoint {ckpt!r} (for {config}) does not exist; train it first with '
                                    f'tools/train.py {config}, or fix the path')
        match = re.search(r'seed[_-]?(\d+)', ckpt)
        stem = osp.splitext(osp.basename(ckpt))[0]
        metrics_path = osp.join(
            osp.dirname(ckpt), 'metrics.json' if stem == 'final' else f'metrics_{stem}.json')
        rec = RunRecord(
            method,
            int(match.group(1)) if match else k,
            None,
            'method',
            osp.dirname(ckpt),
            config,
            ckpt,
            metrics_path=metrics_path)
        if osp.isfile(metrics_path):
            rec.metrics = read_metrics(metrics_path)
        else:
            rec.error = 'not evaluated'
        col.runs.append(rec)
    col.expected[method] = len(ckpts)
    col.cost_paths[method] = osp.join(osp.dirname(ckpts[0]), 'cost.json')
    col.cost_configs[method] = config
    return col


def _references(items):
    refs = {}
    for item in items or []:
        name, sep, members = item.partition('=')
        if not sep:
            name, members = item.replace(',', '+'), item
        refs[name] = [m for m in members.split(',') if m]
    return refs or None


def compare(args: argparse.Namespace) -> int:
    from jdbench.benchmark.collect import collect
    from jdbench.benchmark.leaderboard import (export_leaderboard, paired_deltas, paired_markdown,
                                               write_leaderboard)
    from jdbench.benchmark.report import (board_from_collection, cost_comparison, evaluate_missing,
                                          measure_missing_costs)
    folders, groups = _checkpoint_groups(args.compare)
    col = collect(folders)
    for config, ckpts in groups:
        col.extend(_group_collection(config, ckpts))
    if not args.no_eval:
        evaluate_missing(col, options=args.cfg_options)
        if not args.no_cost:
            measure_missing_costs(col, options=args.cfg_options, train=False)
    if not any(r.metrics for r in col.runs):
        why = '; '.join(sorted({f'{r.method}: {r.error}' for r in col.runs}))
        raise ValueError(f'no run has results to compare ({why})')
    board = board_from_collection(col, args.sort_by, _references(args.reference), args.dm_metrics)
    print(board.to_text())
    lines, _ = cost_comparison(col)
    if lines:
        print('\nCost comparison:\n' + '\n'.join(lines))
    written = export_leaderboard(board, args.out_dir) if args.out_dir else []
    for baseline in args.paired or []:
        if not board.references:
            raise ValueError('--paired needs a Δm reference (--reference stl=stl_seg,stl_depth)')
        text = paired_markdown(paired_deltas(col.runs, board.references[0], baseline), board.references[0],
                               baseline)
        print('\n' + text)
        if args.out_dir:
            written.append(osp.join(args.out_dir, f'paired_{baseline}.md'))
            with open(written[-1], 'w') as f:
                f.write(text)
    written += [p for p in (write_leaderboard(board, f) for f in args.export or []) if p]
    if written:
        print('written: ' + ', '.join(written))
    return 0


def main() -> int:
    args = parse_args()
    if not args.compare:
        return test_one(args)
    try:
        return compare(args)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
