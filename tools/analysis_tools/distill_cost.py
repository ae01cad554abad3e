"""Benchmark: what distillation costs per training iteration, and what JointDistill's hooks add to a run.

1. Per-iteration cost. Every config's ``train_step`` and the teachers' inference (no-grad forward, same batch)
   are timed interleaved in one process (median of ``--iters`` rounds after ``--warmup``; the order rotates from
   round to round, so a slow period of the shared machine hits all alike); the peak memory of each config's
   training is measured in a fresh child process. A distiller meets the target when  t(distill) <= 1.1 x (t(student step) + t(teachers' inference)),
   i.e. nothing is computed twice and teachers build no autograd graph. JointDistill's trajectory probe is
   switched off here: it runs every ``interval`` iterations, not every step, and is measured in part 2.
   JointDistill without its connector is timed too: the difference is what the connector costs.
2. Hook overhead (``--loop-iters N``): one real JointDistill training loop of N iterations on rendered SynthDrive
   data (random-weight teachers). The feedback hook's evaluations (the teachers once, the student every
   interval) are timed directly; the trajectory probes as the excess of the probe iterations over the median
   iteration. Each is given as a share of the loop's time (target: <= 5% each at the default intervals).

    python tools/analysis_tools/distill_cost.py [--batch-size 8] [--input-size 64 128] [--iters 10]
                                                [--loop-iters 400] [--threads 1] [--out cost.json]
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

METHODS = dict(
    mtl='configs/baselines/mtl_synthdrive.py',
    kd_static='configs/baselines/kd_static_synthdrive.py',
    kd4mtl='configs/baselines/kd4mtl_synthdrive.py',
    kd4mtl_stride8='configs/ablations/kd4mtl_stride8_synthdrive.py',  # the cheaper configured variant
    jointdistill='configs/jd_synthdrive.py',
    jd_stride8='configs/ablations/jd_stride8_synthdrive.py',  # the cheaper configured variants
    jd_stride8_fused_loss='configs/ablations/jd_stride8_fused_loss_synthdrive.py',
    jd_stride8_fused_seg_loss='configs/ablations/jd_stride8_fused_seg_loss_synthdrive.py',
    jd_no_connector='configs/ablations/jd_no_connector_synthdrive.py')  # what the connector costs
TEACHERS = dict(seg='configs/teachers/seg_synthdrive.py', depth='configs/teachers/depth_synthdrive.py')


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Per-iteration cost of distillation and JointDistill hook overhead')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--input-size', type=int, nargs=2, default=(64, 128), metavar=('H', 'W'))
    p.add_argument('--iters', type=int, default=10, help='timed rounds (one step of every config per round)')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=1, help='torch threads (children inherit OMP_NUM_THREADS)')
    p.add_argument('--methods', nargs='+', choices=list(METHODS), help='only these configs (mtl is always timed)')
    p.add_argument('--no-memory', action='store_true', help='skip the peak-memory children')
    p.add_argument('--loop-iters', type=int, default=0, help='part 2: training-loop length (0: skip)')
    p.add_argument('--data-root', default='data/synthdrive_suite_n600_64x128',
                   help='part 2: SynthDrive data (rendered on first use, 600 + 100 images)')
    p.add_argument('--out', help='write the figures as JSON')
    return p.parse_args()


def _options(name: str) -> dict:
    """JointDistill's trajectory probe runs every ``interval`` iterations, not every step: part 2 measures it."""
    return {'model.trajectory': None} if name.startswith('j') else {}


def step_costs(args, methods: dict) -> dict:
    """Part 1: the training step of every config and the teachers' no-grad inference, timed interleaved in this
    process (round after round, the order rotated, so that the machine's slow periods hit all alike and the
    ratios to the budget stay meaningful); peak memory of each config's training in a fresh child."""
    from functools import partial

    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from jdbench.benchmark.child import measure_train_in_child
    from jdbench.benchmark.config_utils import build_model, missing_teacher_options
    from jdbench.benchmark.measure import build_for_cost, measure_calls_interleaved, synthetic_batch
    from jdbench.benchmark.records import CostSettings
    size = tuple(args.input_size)
    settings = CostSettings(input_size=size, train_batch_size=args.batch_size, train_iters=args.iters,
                            train_warmup=args.warmup)
    memory = {}
    if not args.no_memory:  # first, while this process is small: a child's peak RSS counts its parent's at fork
        mem = CostSettings(input_size=size, train_batch_size=args.batch_size, train_iters=2, train_warmup=2)
        for name, config in methods.items():
            print(f'peak memory of {name} (child process) ...', flush=True)
            opts = {**missing_teacher_options(Config.fromfile(config)), **_options(name)}
            memory[name] = measure_train_in_child(config, opts, mem)['peak_mem_mb']
    batch = synthetic_batch(args.batch_size, size, num_classes=19)
    calls = {}
    for name, config in methods.items():
        cfg, model, _, _ = build_for_cost(config, _options(name))
        model.train()
        calls[name] = partial(model.train_step, batch, build_optim_wrapper(model, cfg.optim_wrapper))
    x = torch.randn(args.batch_size, 3, *size)
    for task, config in TEACHERS.items():
        teacher = build_model(Config.fromfile(config)).eval()
        calls[f'teacher_{task}'] = partial(torch.no_grad()(teacher._forward), x)
    print(f'timing {", ".join(calls)} interleaved ({args.iters} rounds after the warm-up) ...', flush=True)
    out = measure_calls_interleaved(calls, settings)
    for task in TEACHERS:
        out[f'teacher_{task}']['infer_time_s'] = out[f'teacher_{task}']['iter_time_s']
    for name, peak in memory.items():
        out[name]['peak_mem_mb'] = peak
    return out


class IterClock(Hook):
    """A hook (registered last) that stamps the end of every training iteration, after the other hooks."""

    def __init__(self) -> None:
        self.start, self.marks = 0.0, []

    def before_train(self, runner) -> None:
        self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.marks.append(time.perf_counter())


def timed(fn, calls: list):
    """``fn(runner)`` that also appends ``(start time, seconds, runner.iter)`` to ``calls``."""
    def wrapper(runner):
        start = time.perf_counter()
        try:
            return fn(runner)
        finally:
            calls.append((start, time.perf_counter() - start, runner.iter))
    return wrapper


def loop_times(args) -> dict:
    """Part 2: one real JointDistill training loop; the feedback hook's evaluations are timed directly, the
    trajectory probes as the excess of probe iterations over the median of the others (all within one run, so
    the machine's drift between runs does not enter)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    import jdbench
    from jdbench.benchmark.config_utils import data_cfg_options, teacher_options
    from jdbench.testing import random_teachers
    from jdbench.utils.runner_utils import fit_schedule_to_max_iters
    jdbench.register_all_modules()
    with tempfile.TemporaryDirectory() as teachers_dir, tempfile.TemporaryDirectory() as work_dir:
        random_teachers(teachers_dir, TEACHERS)  # timing does not need trained teachers
        cfg = Config.fromfile(METHODS['jointdistill'])
        planned = cfg.train_cfg.max_iters
        opts = data_cfg_options(cfg, dict(data_root=args.data_root, num_train=600, num_val=100,
                                          size=tuple(args.input_size), batch_size=args.batch_size, num_workers=0))
        opts.update(teacher_options(cfg, {c: osp.join(teachers_dir, osp.splitext(osp.basename(c))[0])
                                          for c in TEACHERS.values()}))
        opts.update({'train_cfg.max_iters': args.loop_iters, 'train_cfg.val_interval': 10**9,
                     'default_hooks.checkpoint.interval': 10**9, 'default_hooks.logger.interval': 50})
        cfg.merge_from_dict(opts)
        fit_schedule_to_max_iters(cfg, planned)
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'TrainingPlotHook']
        cfg.visualizer.name = 'distill_cost_loop'  # mmengine's Visualizer is a named singleton
        cfg.work_dir = work_dir
        runner = Runner.from_cfg(cfg)
        clock = IterClock()
        runner.register_hook(clock, priority='LOWEST')
        feedback = next(h for h in runner.hooks if type(h).__name__ == 'FeedbackHook')
        calls = []
        for name in ('teacher_scores_of', 'student_scores'):
            setattr(feedback, name, timed(getattr(feedback, name), calls))
        runner.train()
    marks = [clock.start] + clock.marks
    durations = [b - a for a, b in zip(marks, marks[1:])]
    interval = next(int(h.get('interval', 20)) for h in cfg.custom_hooks if h['type'] == 'TrajectoryHook')
    probe = {i for i in range(len(durations)) if i % interval == 0}
    evaluated = {it for start, _, it in calls if start >= clock.start}
    before = sum(secs for start, secs, _ in calls if start < clock.start)  # before_train: the teachers, once
    normal = sorted(d for i, d in enumerate(durations) if i not in probe | evaluated)
    median = normal[len(normal) // 2]
    total = marks[-1] - marks[0] + before
    feedback_s = sum(secs for _, secs, _ in calls)
    probe_s = sum(durations[i] - median for i in probe)
    out = dict(iters=args.loop_iters, total_s=total, median_iter_s=median, feedback_s=feedback_s,
               feedback_evaluations=len(calls), probe_s=probe_s, probes=len(probe), probe_interval=interval)
    print(f'JointDistill loop: {total:.1f} s for {args.loop_iters} iterations (median iteration {median:.3f} s); '
          f'{len(calls)} feedback evaluations took {feedback_s:.1f} s, {len(probe)} trajectory probe '
          f'iterations took {probe_s:.1f} s more than median ones', flush=True)
    return out


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    __import__('os').environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    names = ['mtl'] + [m for m in (args.methods or METHODS) if m != 'mtl']
    methods = {name: METHODS[name] for name in names}
    res = dict(conditions=dict(batch_size=args.batch_size, input_size=list(args.input_size),
                               threads=args.threads, iters=args.iters, warmup=args.warmup, interleaved=True),
               steps=step_costs(args, methods))
    s = res['steps']
    budget = s['mtl']['iter_time_s'] + s['teacher_seg']['infer_time_s'] + s['teacher_depth']['infer_time_s']
    table = PrettyTable(['method', 'step (s)', 'p90 (s)', 'peak RSS (MB)', 'x student step', 'x budget'])
    for name in methods:
        r = s[name]
        mem = f'{r["peak_mem_mb"]:.0f}' if 'peak_mem_mb' in r else '-'
        table.add_row([name, f'{r["iter_time_s"]:.3f}', f'{r["iter_time_p90_s"]:.3f}', mem,
                       f'{r["iter_time_s"] / s["mtl"]["iter_time_s"]:.2f}',
                       '-' if name == 'mtl' else f'{r["iter_time_s"] / budget:.2f}'])
        res.setdefault('x_budget', {})[name] = r['iter_time_s'] / budget
    print(table)
    print(f'budget = student step {s["mtl"]["iter_time_s"]:.3f} s + teachers\' inference '
          f'{s["teacher_seg"]["infer_time_s"]:.3f} + {s["teacher_depth"]["infer_time_s"]:.3f} s = {budget:.3f} s; '
          f'target x budget <= 1.10. Batch {args.batch_size}, {args.input_size[0]}x{args.input_size[1]}, '
          f'{args.threads} thread(s), {r["device"]}, all timed interleaved in one process; JointDistill without '
          'its trajectory probe (part 2).')
    res['budget_s'] = budget
    if 'jointdistill' in s and 'jd_no_connector' in s:
        conn = s['jointdistill']['iter_time_s'] - s['jd_no_connector']['iter_time_s']
        res['connector_time_s'] = conn
        print(f'JointDistill\'s connector (forward, ground-truth losses, backward): {conn:.3f} s per step, '
              f'{conn / budget:.2f} x budget')
    if args.loop_iters:
        loop = loop_times(args)
        res['loop'] = loop
        for part, key in (('feedback', 'feedback_s'), ('trajectory', 'probe_s')):
            res[f'{part}_share'] = loop[key] / loop['total_s']
            print(f'{part} share of JointDistill training time: {100 * res[f"{part}_share"]:.1f}% '
                  f'({loop[key]:.1f} s of {loop["total_s"]:.1f} s; target <= 5%)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=2)


if __name__ == '__main__':
    main()
