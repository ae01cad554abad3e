"""Model cost: parameters (total, trainable, per component), FLOPs, inference latency, training iteration
time and peak memory. A comparison mode puts the deployed student beside reference models with the ratios.

    python tools/analyze_cost.py CONFIG [CHECKPOINT] [--input-size H W] [--batch-size 1] [--repeats 20]
                                 [--warmup 5] [--device cpu] [--threads N] [--train-iters 3] [--no-train]
                                 [--out cost.json] [--cfg-options model.teachers.seg.checkpoint=PATH]

    python tools/analyze_cost.py --compare jd=configs/jd_synthdrive.py \\
        teachers=configs/teachers/seg_synthdrive.py+configs/teachers/depth_synthdrive.py \\
        stl=configs/baselines/stl_seg_synthdrive.py+configs/baselines/stl_depth_synthdrive.py \\
        mtl=configs/baselines/mtl_synthdrive.py [--out comparison.json]

In ``--compare`` the first NAME=... is the subject; a group of several configs ('+') counts as the models used
together (parameters, FLOPs, latency and training time add up; training memory is the largest).
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

from jdbench.benchmark.measure import analyze_config  # noqa: E402
from jdbench.benchmark.records import CostSettings  # noqa: E402
from jdbench.benchmark.render import format_cost  # noqa: E402
from jdbench.benchmark.report import compare_configs  # noqa: E402
from jdbench.utils.runner_utils import DictAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Parameters, FLOPs, latency and training cost of a jdbench model')
    parser.add_argument('config', nargs='?', help='config file (omit with --compare)')
    parser.add_argument('checkpoint', nargs='?', help='optional weights (full model or student-only)')
    parser.add_argument(
        '--compare',
        nargs='+',
        metavar='NAME=CFG[+CFG]',
        help='compare the first model (the deployed student) with the others')
    parser.add_argument(
        '--input-size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size (default: the config\'s test resolution)')
    parser.add_argument('--batch-size', type=int, default=1, help='batch size of the latency measurement')
    parser.add_argument('--warmup', type=int, default=5, help='latency warm-up runs (discarded)')
    parser.add_argument('--repeats', type=int, default=20, help='timed latency runs')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='CPU threads (torch.set_num_threads; also for the child)')
    parser.add_argument('--train-iters', type=int, default=3, help='timed training iterations')
    parser.add_argument('--train-warmup', type=int, default=3,
                        help='at least this many discarded training steps (more until the step time settles)')
    parser.add_argument('--train-batch-size', type=int, help='training batch size (default: the config\'s)')
    parser.add_argument('--train-timeout', type=float, default=600.0,
                        help='seconds before the training-step measurement is stopped')
    parser.add_argument('--no-train', action='store_true', help='skip the training-step measurement')
    parser.add_argument('--no-latency', action='store_true', help='skip the latency measurement')
    parser.add_argument('--no-flops', action='store_true', help='skip FLOP counting')
    parser.add_argument('--out', help='write the result as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    if args.compare and args.config:
        parser.error('give either CONFIG [CHECKPOINT] or --compare NAME=CFG ..., not both')
    if not args.compare and not args.config:
        parser.error('give a CONFIG, or --compare NAME=CFG[+CFG] NAME=CFG ...')
    return args


def cost_settings(args: argparse.Namespace) -> CostSettings:
    """The :class:`CostSettings` the flags give."""
    return CostSettings(
        input_size=args.input_size,
        batch_size=args.batch_size,
        warmup=args.warmup,
        repeats=args.repeats,
        device=args.device,
        flops=not args.no_flops,
        latency=not args.no_latency,
        train=not args.no_train,
        train_iters=args.train_iters,
        train_warmup=args.train_warmup,
        train_batch_size=args.train_batch_size,
        train_timeout=args.train_timeout)


def parse_groups(items) -> dict:
    groups = {}
    for item in items:
        name, sep, cfgs = item.partition('=')
        if not sep or not cfgs:
            raise ValueError(f'--compare item {item!r} should be NAME=CONFIG or NAME=CONFIG+CONFIG')
        groups[name] = cfgs.split('+')
    missing = [c for cfgs in groups.values() for c in cfgs if not osp.isfile(c)]
    if missing:
        raise FileNotFoundError(f'config(s) not found: {", ".join(missing)}')
    return groups


def main() -> int:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ['OMP_NUM_THREADS'] = str(args.threads)
    try:
        settings = cost_settings(args)
        if args.compare:
            result = compare_configs(parse_groups(args.compare), settings, args.cfg_options,
                                     log=lambda line: print(line, flush=True))
        else:
            result = analyze_config(args.config, args.checkpoint, args.cfg_options, settings)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if not args.compare:
        print(format_cost(result))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'written: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
