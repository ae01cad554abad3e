"""Benchmark: what X-Distill costs per training iteration, and that it deploys exactly Monodepth2's network.

1. Per-iteration cost. X-Distill's ``train_step``, Monodepth2's ``train_step`` and the segmentation teacher's
   no-grad inference (the grouped targets X-Distill computes from the raw target frames, online mode) are
   timed interleaved in one process on the same synthetic frame-triplet batch (median of ``--iters`` rounds
   after a warm-up that lasts until the times settle; the order rotates from round to round, so a slow period
   of the shared machine hits all alike). Target (issue 12):
   t(X-Distill) <= 1.05 x (t(Monodepth2) + t(teacher inference)).
   The breakdown also times the cross-task term alone (translator forward, loss, backward into the
   disparities), so the overhead over the budget can be told apart from noise.
2. Deployment. Both configs' exports (``export_state_dict``, what ``ExportStudentHook`` writes to
   ``final.pth``) load into a plain ``MonoDepthNet`` of the config; their parameter counts and FLOPs
   (``jdbench.benchmark.measure.count_parameters`` / ``count_flops``, one multiply-add = one FLOP) must be
   identical.

The teacher has random weights unless its checkpoint exists (the cost does not depend on the weights).

    python tools/analysis_tools/xdistill_cost.py [--batch-size 4] [--input-size 96 320] [--iters 10]
        [--warmup 3] [--threads 1] [--monodepth2 CONFIG] [--xdistill CONFIG] [--out cost.json]
"""
import argparse
import json
import os
import os.path as osp
import sys
from functools import partial

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

MONODEPTH2 = 'configs/xdistill/monodepth2_synthdrive_seq.py'
XDISTILL = 'configs/xdistill/xdistill_synthdrive_seq.py'
TARGET = 1.05


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Per-iteration cost of X-Distill vs Monodepth2 + teacher inference, '
                                'and the deployed depth networks')
    p.add_argument('--monodepth2', default=MONODEPTH2, help='the Monodepth2 config')
    p.add_argument('--xdistill', default=XDISTILL, help='the X-Distill config (same depth and pose nets)')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--input-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                   help="the frames' size (default: the X-Distill config's test resolution)")
    p.add_argument('--iters', type=int, default=10, help='timed rounds (one call of each part per round)')
    p.add_argument('--warmup', type=int, default=3, help='at least this many warm-up rounds')
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', help='write the figures as JSON')
    return p.parse_args()


def build(config: str, device: str):
    """(cfg, model, optim wrapper) of a config, teacher checkpoints that do not exist replaced by random weights."""
    from mmengine.optim import build_optim_wrapper
    from jdbench.benchmark.measure import build_for_cost
    torch.manual_seed(0)  # the same depth and pose initialisation in both models
    cfg, model, _, random_teachers = build_for_cost(config)
    model = model.to(device).train()
    if random_teachers:
        print(f'{config}: teacher checkpoint missing, random teacher weights (timing does not depend on them)')
    return cfg, model, build_optim_wrapper(model, cfg.optim_wrapper)


def step_costs(args, size) -> dict:
    """Part 1: every part timed interleaved (see the module docstring)."""
    from jdbench.benchmark.measure import measure_calls_interleaved, synthetic_sequence_batch
    from jdbench.benchmark.records import CostSettings
    from jdbench.models.selfsup import cross_task_distill, split_sequence
    _, md2, md2_optim = build(args.monodepth2, args.device)
    _, xd, xd_optim = build(args.xdistill, args.device)
    if getattr(xd, 'teacher_mode', 'online') != 'online':
        print(f'note: {args.xdistill} caches the teacher labels; timed here with online teacher inference')
        xd.label_cache = None
    batch = synthetic_sequence_batch(args.batch_size, size)
    data = xd.data_preprocessor(dict(inputs=list(batch['inputs']), data_samples=batch['data_samples']), True)
    seq = split_sequence(data['inputs'], data['data_samples'])
    scales = xd.depth_net.scales
    with torch.no_grad():
        disps = xd.depth_net(seq.aug[0])
    out_size = xd.translator.output_size(disps, scales)
    leaf = [d.detach().requires_grad_() for d in disps]

    def teacher_inference():
        """The grouped teacher targets of the raw target frames (no grad)."""
        return xd.teacher_targets(seq.raw[0], data['data_samples'], out_size)

    target = teacher_inference()

    def cross_task_term():
        """Translator forward, loss and backward into the disparities (what X-Distill adds besides the teacher)."""
        loss, _, _ = cross_task_distill(leaf, None, xd.translator, xd.grouping, xd.xd_loss, target=target,
                                        scales=scales)
        loss.backward()
        xd.translator.zero_grad(set_to_none=True)
        for d in leaf:
            d.grad = None

    calls = dict(monodepth2=partial(md2.train_step, batch, md2_optim),
                 xdistill=partial(xd.train_step, batch, xd_optim),
                 teacher_inference=teacher_inference,
                 cross_task_term=cross_task_term)
    settings = CostSettings(input_size=size, train_batch_size=args.batch_size, train_iters=args.iters,
                            train_warmup=args.warmup, device=args.device)
    print(f'timing {", ".join(calls)} interleaved ({args.iters} rounds after the warm-up) ...', flush=True)
    return measure_calls_interleaved(calls, settings)


def deployed(args, size) -> dict:
    """Part 2: each config's export loaded into a plain MonoDepthNet; parameters and FLOPs."""
    from mmengine.config import Config
    from jdbench.benchmark.measure import count_flops, count_parameters
    from jdbench.registry import MODELS
    out = {}
    for name, config in (('monodepth2', args.monodepth2), ('xdistill', args.xdistill)):
        _, model, _ = build(config, 'cpu')
        export = model.export_state_dict()
        net = MODELS.build(Config.fromfile(config).model.depth_net)
        net.load_state_dict(export, strict=True)   # the export is exactly a plain depth net
        out[name] = dict(type=type(net).__name__, keys=len(export),
                         shapes={k: list(v.shape) for k, v in export.items()},
                         params=count_parameters(net)['total'], flops=count_flops(net, (3, *size)),
                         training_params=count_parameters(model)['total'])
    a, b = out['monodepth2'], out['xdistill']
    out['identical'] = a['shapes'] == b['shapes'] and a['params'] == b['params'] and a['flops'] == b['flops']
    return out


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    import jdbench
    from jdbench.benchmark.config_utils import default_input_size, load_model_config
    jdbench.register_all_modules(init_default_scope=True)
    size = tuple(args.input_size) if args.input_size else default_input_size(load_model_config(args.xdistill))
    s = step_costs(args, size)
    md2, xd = s['monodepth2']['iter_time_s'], s['xdistill']['iter_time_s']
    teacher, term = s['teacher_inference']['iter_time_s'], s['cross_task_term']['iter_time_s']
    budget = md2 + teacher
    ratio = xd / budget
    table = PrettyTable(['part', 'median (s)', 'p90 (s)', 'x Monodepth2 step'])
    table.align['part'] = 'l'
    rows = [('Monodepth2 train_step', s['monodepth2']), ('teacher inference (no grad, grouped targets)',
                                                       s['teacher_inference']),
            ('cross-task term (translator fwd + L_xd + bwd)', s['cross_task_term']),
            ('X-Distill train_step', s['xdistill'])]
    for label, r in rows:
        table.add_row([label, f'{r["iter_time_s"]:.4f}', f'{r["iter_time_p90_s"]:.4f}',
                       f'{r["iter_time_s"] / md2:.3f}'])
    print(table)
    print(f'budget = Monodepth2 step {md2:.4f} s + teacher inference {teacher:.4f} s = {budget:.4f} s')
    print(f'X-Distill / budget = {ratio:.3f} (target <= {TARGET:.2f}: {"met" if ratio <= TARGET else "NOT met"}); '
          f'X-Distill - budget = {xd - budget:+.4f} s per iteration, of which the cross-task term alone takes '
          f'{term:.4f} s')
    print(f'conditions: batch {args.batch_size} frame triplets, {size[0]}x{size[1]}, {args.threads} thread(s), '
          f'{s["xdistill"]["device"]}, median of {s["xdistill"]["iters"]} interleaved rounds after '
          f'{s["xdistill"]["warmup"]} warm-up rounds')
    dep = deployed(args, size)
    table = PrettyTable(['deployed network', 'type', 'state_dict keys', 'params', f'FLOPs at {size[0]}x{size[1]}',
                         'params in training (with teacher)'])
    for name in ('monodepth2', 'xdistill'):
        d = dep[name]
        table.add_row([name, d['type'], d['keys'], f'{d["params"]:,}', f'{d["flops"] / 1e9:.4f} G',
                       f'{d["training_params"]:,}'])
    print(table)
    print('deployed depth networks identical (keys, shapes, params, FLOPs): '
          f'{"yes" if dep["identical"] else "NO"}')
    if args.out:
        res = dict(conditions=dict(batch_size=args.batch_size, input_size=list(size), threads=args.threads,
                                   iters=args.iters, warmup=args.warmup, interleaved=True),
                   steps=s, budget_s=budget, ratio=ratio, target=TARGET,
                   deployed={k: {kk: vv for kk, vv in v.items() if kk != 'shapes'} if isinstance(v, dict) else v
                             for k, v in dep.items()})
        with open(args.out, 'w') as f:
            json.dump(res, f, indent=2)
        print(f'written: {args.out}')
    return 0 if dep['identical'] else 1


if __name__ == '__main__':
    sys.exit(main())
