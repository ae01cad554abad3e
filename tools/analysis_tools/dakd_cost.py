"""Benchmark: what one Domain Adaptive KD iteration costs, against its budget (issue 13).

The budget is what DAKD cannot avoid: the student's step on both batches (source cross-entropy, target
adversarial terms, backward, optimizer step), the discriminators' step, and the teacher's no-grad inference on
both batches. The first two together are the AdaptSegNet step of the same student and discriminators, so

    budget = t(AdaptSegNet step) + t(teacher on the source batch) + t(teacher on the target batch)

and a DAKD iteration meets the target when t(DAKD step) <= 1.1 x budget (the distillation terms themselves,
computed on logits, and their backward through the student's outputs are the only extra work). Every callable
is timed interleaved in one process (jdbench.benchmark.measure.measure_calls_interleaved: the order rotates from
round to round, so a slow period of a shared machine hits all alike) on synthetic batches; the teacher has
random weights when its checkpoint is missing (costs do not depend on the weights). The breakdown also times the
discriminator step alone; the student's own step is the AdaptSegNet step minus it. ``--variants`` (by default
``dakd_all_lowres``: the KD terms at the student heads' resolution) are timed in the same rounds against the
same budget.

    python tools/analysis_tools/dakd_cost.py [--config configs/dakd/dakd_all_synthdrive_day2fog.py]
        [--batch-size 8] [--input-size 128 256] [--iters 10] [--warmup 3] [--threads 1] [--out cost.json]
        [--variants [CONFIG ...]]
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
from functools import partial
from typing import Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from prettytable import PrettyTable  # noqa: E402

TARGET = 1.1
VARIANT = 'configs/dakd/dakd_all_lowres_synthdrive_day2fog.py'  # the KD terms at the heads' resolution
#: the AdaptSegNet arguments a DAKD config shares with its baseline
ADAPT_KEYS = ('discriminator', 'lambda_adv', 'gan', 'resolution', 'weighting', 'data_preprocessor')


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Per-iteration cost of Domain Adaptive KD against its budget')
    p.add_argument('--config', default='configs/dakd/dakd_all_synthdrive_day2fog.py', help='a DAKD config')
    p.add_argument('--batch-size', type=int, default=8, help='images per stream')
    p.add_argument('--input-size', type=int, nargs=2, default=(128, 256), metavar=('H', 'W'))
    p.add_argument('--iters', type=int, default=10, help='timed rounds (one call of each per round)')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--device', default='cpu')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='overrides of the config (e.g. model.paradigm=output_target)')
    p.add_argument('--variants', nargs='*', default=[VARIANT], metavar='CONFIG',
                   help='other DAKD configs with the same student and adaptation, timed in the same rounds '
                   f'against the same budget (default: {VARIANT}; none: --variants)')
    p.add_argument('--out', help='write the figures as JSON')
    return p.parse_args()


def load_dakd_config(config: str, cfg_options: Sequence[str] = ()):
    """A DAKD config with ``KEY=VALUE`` overrides; missing teacher checkpoints replaced by random weights."""
    from mmengine.config import Config
    from jdbench.benchmark.config_utils import missing_teacher_options
    if not osp.isfile(config):
        raise SystemExit(f'{config}: no such config file; give the path of a DAKD config (e.g. '
                         'configs/dakd/dakd_all_synthdrive_day2fog.py)')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(dict(item.split('=', 1) for item in cfg_options))
    if cfg.model.get('type') != 'DAKD':
        raise SystemExit(f'{config} is not a DAKD config (model.type={cfg.model.get("type")!r})')
    cfg.merge_from_dict(missing_teacher_options(cfg))
    return cfg


def adaptation(cfg) -> dict:
    """The AdaptSegNet part of a DAKD config: its student and adaptation settings (the budget's model)."""
    return dict(type='AdaptSegNet', student=copy.deepcopy(cfg.model.student),
                **{k: copy.deepcopy(cfg.model[k]) for k in ADAPT_KEYS if k in cfg.model})


def build_models(args):
    """(DAKD, its AdaptSegNet baseline with the same student and discriminators, the DAKD config)."""
    import jdbench
    from jdbench.registry import MODELS
    jdbench.register_all_modules(init_default_scope=True)
    cfg = load_dakd_config(args.config, args.cfg_options)
    torch.manual_seed(0)
    dakd = MODELS.build(copy.deepcopy(cfg.model))
    torch.manual_seed(0)
    adaptsegnet = MODELS.build(adaptation(cfg))
    return dakd.to(args.device).train(), adaptsegnet.to(args.device).train(), cfg


def build_variants(args, cfg) -> dict:
    """``{name: (DAKD model, its config)}`` of ``--variants``; each must share the budget's AdaptSegNet part."""
    from jdbench.registry import MODELS
    out = {}
    for config in args.variants:
        vcfg = load_dakd_config(config, args.cfg_options)
        if adaptation(vcfg) != adaptation(cfg):
            raise SystemExit(f'{config}: its student or adaptation settings ({", ".join(ADAPT_KEYS)}) differ from '
                             f'{args.config}\'s, so the budget would not be its own; time it with --config')
        torch.manual_seed(0)
        out[osp.splitext(osp.basename(config))[0]] = (MODELS.build(copy.deepcopy(vcfg.model)).to(args.device).train(),
                                                      vcfg)
    return out


def optim_wrappers(model, cfg):
    from mmengine.optim import build_optim_wrapper
    return build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault('OMP_NUM_THREADS', str(args.threads))
    from jdbench.benchmark.measure import measure_calls_interleaved, synthetic_batch
    from jdbench.benchmark.records import CostSettings
    dakd, asn, cfg = build_models(args)
    size = tuple(args.input_size)
    batch = dict(source=synthetic_batch(args.batch_size, size, num_classes=19, seed=0),
                 target=synthetic_batch(args.batch_size, size, num_classes=19, seed=1))
    data = dakd.data_preprocessor(copy.deepcopy(batch), True)
    x_s, x_t = data['source']['inputs'], data['target']['inputs']
    with torch.no_grad():                       # the discriminators' inputs of one AdaptSegNet forward
        asn(**asn.data_preprocessor(copy.deepcopy(batch), True), mode='loss')
    disc_inputs = asn._disc_inputs
    asn_ow, dakd_ow = optim_wrappers(asn, cfg), optim_wrappers(dakd, cfg)
    variants = build_variants(args, cfg)

    def disc_step() -> None:
        asn._disc_inputs = disc_inputs
        with asn_ow['discriminator'].optim_context(asn.discriminator):
            loss = sum(asn.discriminator_losses().values())
        asn_ow['discriminator'].update_params(loss)

    calls = dict(
        dakd=partial(dakd.train_step, batch, dakd_ow),
        adaptsegnet=partial(asn.train_step, batch, asn_ow),
        disc_step=disc_step,
        teacher_source=partial(dakd.teacher.forward_levels, x_s),
        teacher_target=partial(dakd.teacher.forward_levels, x_t))
    for name, (model, vcfg) in variants.items():
        calls[name] = partial(model.train_step, batch, optim_wrappers(model, vcfg))
    settings = CostSettings(input_size=size, train_batch_size=args.batch_size, train_iters=args.iters,
                            train_warmup=args.warmup, device=args.device)
    print(f'timing {", ".join(calls)} interleaved ({args.iters} rounds after the warm-up) ...', flush=True)
    res = measure_calls_interleaved(calls, settings)
    t = {k: v['iter_time_s'] for k, v in res.items()}
    budget = t['adaptsegnet'] + t['teacher_source'] + t['teacher_target']
    student_both = t['adaptsegnet'] - t['disc_step']
    rows = [('student step on both batches (AdaptSegNet step - discriminator step)', student_both),
            ('discriminator step', t['disc_step']),
            ('teacher inference, source batch', t['teacher_source']),
            ('teacher inference, target batch', t['teacher_target']),
            ('budget (sum of the above)', budget),
            ('DAKD iteration', t['dakd']),
            ('DAKD extra over the budget', t['dakd'] - budget)]
    rows += [(f'{name} iteration', t[name]) for name in variants]
    table = PrettyTable(['part', 'seconds', 'x budget'])
    table.align['part'] = 'l'
    for name, secs in rows:
        table.add_row([name, f'{secs:.4f}', f'{secs / budget:.3f}'])
    print(table)
    ratio = t['dakd'] / budget
    print(f'DAKD / budget = {ratio:.3f} (target <= {TARGET}): {"met" if ratio <= TARGET else "NOT met"}. '
          f'{args.config} (paradigm {dakd.paradigm or "all"}), batch {args.batch_size} per stream, '
          f'{size[0]}x{size[1]}, {args.threads} thread(s), {res["dakd"]["device"]}, medians of {args.iters} '
          'interleaved rounds.')
    for name in variants:
        r = t[name] / budget
        print(f'{name} / budget = {r:.3f} (target <= {TARGET}): {"met" if r <= TARGET else "NOT met"}.')
    if args.out:
        out = dict(config=args.config, paradigm=dakd.paradigm, batch_size=args.batch_size, input_size=list(size),
                   threads=args.threads, times=res, budget_s=budget, student_step_s=student_both,
                   x_budget=ratio, target=TARGET,
                   variants={name: dict(config=cfg_path, x_budget=t[name] / budget)
                             for name, cfg_path in zip(variants, args.variants)})
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=2)


if __name__ == '__main__':
    main()
