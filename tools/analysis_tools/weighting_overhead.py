"""Benchmark: per-iteration cost of each weighting strategy relative to equal weighting (EW).

Each strategy trains the default joint student (configs/baselines/mtl_synthdrive.py) on a synthetic batch in a
fresh child process; the median ``train_step`` time after warm-up is compared with EW's. Gradient strategies pay
one backward pass per objective over the shared parameters (or the shared representation with rep_grad=True).

    python tools/analysis_tools/weighting_overhead.py [--batch-size 8] [--input-size 64 128] [--iters 10]
                                                      [--strategies EW UW PCGrad ...] [--out overhead.json]
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from prettytable import PrettyTable  # noqa: E402

CONFIG = 'configs/baselines/mtl_synthdrive.py'
REQUIRED_ARGS = {'Fixed': {'model.weighting.weights': dict(seg=1.0, depth=1.0)}}


def main() -> None:
    from jdbench.benchmark.child import measure_train_in_child
    from jdbench.benchmark.records import CostSettings
    from jdbench.weighting import registered_strategies
    p = argparse.ArgumentParser(description='Per-iteration overhead of weighting strategies relative to EW')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--input-size', type=int, nargs=2, default=(64, 128), metavar=('H', 'W'))
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--strategies', nargs='+', help='default: every registered strategy except Feedback')
    p.add_argument('--out', help='write the figures as JSON')
    args = p.parse_args()
    os.environ['OMP_NUM_THREADS'] = str(args.threads)
    names = args.strategies or [s for s in registered_strategies() if s != 'Feedback']
    names = ['EW'] + [n for n in names if n != 'EW']
    res = {}
    for name in names:
        opts = {'model.weighting.type': name, **REQUIRED_ARGS.get(name, {})}
        print(f'timing {name} ...', flush=True)
        res[name] = measure_train_in_child(
            CONFIG, opts, CostSettings(input_size=tuple(args.input_size), train_batch_size=args.batch_size,
                                       train_iters=args.iters, train_warmup=args.warmup))
    ew = res['EW']['iter_time_s']
    table = PrettyTable(['strategy', 'step (s)', 'p90 (s)', 'x EW'])
    for name, r in sorted(res.items(), key=lambda kv: kv[1]['iter_time_s']):
        table.add_row([name, f'{r["iter_time_s"]:.3f}', f'{r["iter_time_p90_s"]:.3f}', f'{r["iter_time_s"] / ew:.2f}'])
    print(table)
    print(f'{CONFIG}, batch {args.batch_size}, {args.input_size[0]}x{args.input_size[1]}, {args.threads} thread(s), '
          f'{res["EW"]["device"]}; median of {args.iters} steps after a warm-up of at least {args.warmup} steps '
          '(until steps settle)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=2)


if __name__ == '__main__':
    main()
