"""Run a benchmark suite: data, teachers, every method × seed, evaluation, cost, leaderboard. Resumable.

    python tools/benchmark.py configs/benchmarks/synthdrive.py [--quick] [--out-dir DIR] [--methods mtl
    jointdistill]
                              [--seeds 0 1 2] [--cfg-options max_iters.student=300 data.num_train=400]
                              [--dry-run] [--report-only] [--no-cost] [--no-data]

Rerunning the same command skips finished runs (``metrics.json`` present) and resumes interrupted ones.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout without installing

from jdbench.benchmark.suite import Suite, SuiteRunner  # noqa: E402
from jdbench.utils.runner_utils import DictAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Run a jdbench benchmark suite')
    parser.add_argument('suite', help='suite config, e.g. configs/benchmarks/synthdrive.py')
    parser.add_argument(
        '--quick', action='store_true', help="apply the suite's `quick` overrides (smaller, faster)")
    parser.add_argument('--out-dir', help='output folder (default: the suite\'s out_dir)')
    parser.add_argument(
        '--methods', nargs='+', help='only these methods (teachers and Δm references are kept)')
    parser.add_argument('--seeds', nargs='+', type=int, help='override the seeds list')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override suite fields, e.g. max_iters.student=300 data.num_train=400 evaluate=test')
    parser.add_argument('--dry-run', action='store_true', help='print the plan and the commands, run nothing')
    parser.add_argument(
        '--report-only', action='store_true', help='only rebuild the leaderboard from the output')
    parser.add_argument('--no-cost', action='store_true', help='skip the cost measurements')
    parser.add_argument('--no-data', action='store_true', help='skip the data check/render step')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        suite = Suite.from_file(args.suite, args.quick, args.cfg_options, args.methods, args.seeds,
                                args.out_dir)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    runner = SuiteRunner(suite)
    if args.dry_run:
        print('\n'.join(runner.describe()))
        return 0
    try:
        if args.report_only:
            if not osp.isfile(osp.join(suite.out_dir, 'suite.json')):
                raise FileNotFoundError(f'{suite.out_dir} holds no suite results (no suite.json); run the suite first')
            suite.write_manifest()  # the suite's models join the listing (e.g. the ablations of a shared folder)
            return 0 if runner.report() is not None else 1
        runner.run(prepare_data=False if args.no_data else None, costs=not args.no_cost)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f'\ninterrupted; rerun the same command to continue (finished runs are kept in {suite.out_dir})',
            file=sys.stderr)
        return 130
    return 1 if runner.failures else 0


if __name__ == '__main__':
    sys.exit(main())
