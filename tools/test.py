"""Evaluate a checkpoint with the standard jdbench metric, or compare many runs in a leaderboard.

One checkpoint (a full-model checkpoint, or the student-only ``final.pth`` of a distiller run)::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--metrics-out FILE.json]
                         [--cfg-options ...] [--launcher pytorch]

Comparison (suite output folders, work dirs, ``<method>/seed<k>/`` folders, or CONFIG.py CKPT.pth [CKPT.pth
...] groups; stored ``metrics.json`` are reused, the rest evaluated)::

    python tools/test.py --compare OUT [OUT2 ...] [--sort-by delta_m] [--reference stl=stl_seg,stl_depth]
                         [--paired mtl] [--level 0.95] [--out-dir DIR] [--export board.md board.csv]
                         [--html [FILE]] [--metrics abs_rel sq_rel rmse ...] [--no-eval] [--cfg-options ...]

``--paired M`` adds, for every method, its Δm minus M's at each seed both ran (same seed: same student
initialisation and data order), which separates methods that the mean ± std over seeds cannot: a Student-t
interval of the mean difference at ``--level`` and an exact sign test, and under the table which methods are
separated from M. ``--html`` writes ``leaderboard.html``: one self-contained page (sortable table, paired
comparison, charts, every run's curves, links to the configs). ``--metrics`` chooses the metric columns (default:
the suite's ``leaderboard.metrics``, else mIoU, pixel acc, abs err, rel err, δ1).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from jdbench.benchmark.evaluate import evaluate_checkpoint  # noqa: E402
from jdbench.benchmark.report import compare  # noqa: E402
from jdbench.utils import CheckpointError  # noqa: E402
from jdbench.utils.runner_utils import DictAction, set_local_rank  # noqa: E402


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
        '--metrics',
        nargs='+',
        metavar='METRIC',
        help='metric columns of the leaderboard, in order (e.g. abs_rel sq_rel rmse rmse_log d1 d2 d3; default: '
        'the suite\'s leaderboard.metrics, else mIoU pixel_acc abs_err rel_err d1)')
    cmp.add_argument(
        '--dm-metrics',
        nargs='+',
        help='metrics Δm averages over (default mIoU pixel_acc abs_err '
        'rel_err)')
    cmp.add_argument(
        '--paired',
        nargs='+',
        metavar='METHOD',
        help='also compare every method with these, seed by seed (Δm differences on shared seeds, a '
        'Student-t interval of their mean and a sign test)')
    cmp.add_argument(
        '--level',
        type=float,
        default=0.95,
        help='confidence level of the paired intervals and the chart\'s error bars (default 0.95)')
    cmp.add_argument('--out-dir', help='write leaderboard.{md,csv,json,png} here')
    cmp.add_argument(
        '--export', nargs='+', metavar='FILE', help='write these files (.md, .csv, .json, .png, .html)')
    cmp.add_argument(
        '--html',
        nargs='?',
        const='',
        metavar='FILE',
        help='write the leaderboard as one self-contained page (default: leaderboard.html in --out-dir, else '
        'in the current folder)')
    cmp.add_argument('--no-eval', action='store_true', help='use stored metrics/costs only; evaluate nothing')
    cmp.add_argument('--no-cost', action='store_true', help='do not measure missing costs')
    args = parser.parse_args()
    if args.compare:
        if args.config or args.checkpoint:
            parser.error('give either CONFIG CHECKPOINT or --compare PATH ..., not both')
    elif not (args.config and args.checkpoint):
        parser.error('the following arguments are required: CONFIG CHECKPOINT (or use --compare PATH ...)')
    elif args.metrics:
        parser.error('--metrics chooses the leaderboard columns of --compare; one checkpoint\'s metrics are '
                     'all written by --metrics-out FILE.json')
    if args.html == '':
        args.html = osp.join(args.out_dir or '.', 'leaderboard.html')
    set_local_rank(args.local_rank)
    return args


def main() -> int:
    args = parse_args()
    try:
        if not args.compare:
            evaluate_checkpoint(args.config, args.checkpoint, args.work_dir, args.show_dir, args.metrics_out,
                                args.cfg_options, args.launcher)
            return 0
        compare(args.compare, args.sort_by, args.reference, args.dm_metrics, args.paired, args.out_dir,
                args.export, evaluate=not args.no_eval, costs=not args.no_cost, options=args.cfg_options,
                html=args.html, level=args.level, metrics=args.metrics)
        return 0
    except (FileNotFoundError, ValueError, CheckpointError) as err:  # bad input: one clear line
        print(f'error: {err}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
