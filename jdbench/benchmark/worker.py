"""Child-process entry points of the benchmark tools (``python -m jdbench.benchmark.worker ...``).

* ``train-cost CONFIG``: measure a training step (:func:`jdbench.benchmark.cost.run_train_measurement`) in
  this fresh process and print the result as one ``JDBENCH_RESULT {json}`` line.
* ``prepare-data CONFIG``: build the config's datasets once, which renders SynthDrive when it is missing and
  checks that the data are readable.
"""
import argparse
import json
import sys
from typing import List, Optional

from mmengine.config import DictAction

from jdbench.benchmark.config_utils import LOADERS, load_model_config


def prepare_data(config: str, cfg_options: Optional[dict] = None) -> List[str]:
    """Build every dataset of a config (train, val, test); returns one line per dataset with its length."""
    import jdbench
    from jdbench.registry import DATASETS
    jdbench.register_all_modules(init_default_scope=True)
    cfg = load_model_config(config, cfg_options)
    lines, seen = [], []
    for loader in LOADERS:
        ds_cfg = (cfg.get(loader) or {}).get('dataset')
        if ds_cfg is None or ds_cfg in seen:
            continue
        seen.append(ds_cfg)
        dataset = DATASETS.build(ds_cfg)
        if len(dataset) == 0:
            raise RuntimeError(f'{loader} dataset of {config} is empty ({ds_cfg.get("data_root")})')
        lines.append(f'{loader}: {len(dataset)} samples from {ds_cfg.get("data_root")}')
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m jdbench.benchmark.worker')
    sub = parser.add_subparsers(dest='cmd', required=True)
    cost = sub.add_parser('train-cost', help='measure a training iteration (time, peak memory)')
    cost.add_argument('config')
    cost.add_argument('--iters', type=int, default=3)
    cost.add_argument('--warmup', type=int, default=1)
    cost.add_argument('--batch-size', type=int)
    cost.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'))
    cost.add_argument('--device', default='cpu')
    cost.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    data = sub.add_parser('prepare-data', help='render (if missing) and check the datasets of a config')
    data.add_argument('config')
    data.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    args = parser.parse_args(argv)
    options = args.cfg_options
    if args.cmd == 'train-cost':
        from jdbench.benchmark.cost import RESULT_PREFIX, run_train_measurement
        result = run_train_measurement(args.config, options, args.batch_size, args.input_size, args.iters,
                                       args.warmup, args.device)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
    else:
        for line in prepare_data(args.config, options):
            print(line, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
