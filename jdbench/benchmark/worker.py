"""Child-process entry points of the benchmark tools (``python -m jdbench.benchmark.worker ...``).

* ``train-cost CONFIG``: measure a training step (:func:`jdbench.benchmark.cost.run_train_measurement`) in
  this fresh process and print the result as one ``JDBENCH_RESULT {json}`` line.
* ``prepare-data CONFIG``: build the config's datasets once, which renders SynthDrive when it is missing and
  checks that the data are readable.
* ``latency JOB.json --out OUT.json``: build every model of the job and measure their latencies interleaved
  (:func:`jdbench.benchmark.cost.measure_latencies`), so that they share the machine's slow and fast periods.
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


def latency_job(job: dict) -> dict:
    """Latency of the deployed model of each ``job['models']`` entry (``{name: {config, options}}``)."""
    from jdbench.benchmark.cost import build_for_cost, deployed_model, measure_latencies
    models = {name: deployed_model(build_for_cost(m['config'], m.get('options'))[1])
              for name, m in job['models'].items()}
    h, w = job['input_size']
    return measure_latencies(models, (3, int(h), int(w)), int(job.get('batch_size', 1)),
                             int(job.get('warmup', 5)), int(job.get('repeats', 20)), job.get('device', 'cpu'))


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
    lat = sub.add_parser('latency', help='interleaved latency of several models (a JSON job file)')
    lat.add_argument('job', help='{"models": {name: {"config": ..., "options": {...}}}, "input_size": [H, W], '
                     '"batch_size": 1, "warmup": 5, "repeats": 20, "device": "cpu"}')
    lat.add_argument('--out', required=True, help='where to write {name: latency}')
    args = parser.parse_args(argv)
    if args.cmd == 'latency':
        with open(args.job) as f:
            result = latency_job(json.load(f))
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        for name, lat in result.items():
            print(f'{name}: median {lat["median_ms"]:.2f} ms, p90 {lat["p90_ms"]:.2f} ms', flush=True)
        return 0
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
