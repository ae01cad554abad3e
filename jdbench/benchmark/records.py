"""The benchmark's data types: one run (:class:`RunRecord`), a statistic over seeds (:class:`Stat`), the
leaderboard's columns (:class:`Column`) and how costs are measured (:class:`CostSettings`)."""
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from jdbench.evaluation.functional import METRIC_DIRECTIONS


@dataclass
class RunRecord:
    """One training run (one method, one seed) and its metrics (None: no results yet)."""
    method: str
    seed: Optional[int] = None
    metrics: Optional[Dict[str, float]] = None
    role: str = 'method'  # 'method', 'reference' (a Δm reference model) or 'teacher'
    work_dir: Optional[str] = None
    config: Optional[str] = None
    checkpoint: Optional[str] = None
    error: Optional[str] = None  # why there are no metrics
    metrics_path: Optional[str] = None  # where its metrics.json is (or goes once evaluated)


@dataclass
class Stat:
    """Mean, sample standard deviation (None for a single value) and count of a column over seeds."""
    mean: float
    std: Optional[float]
    n: int


def mean_std(values: Sequence[float]) -> Stat:
    """``Stat`` of values: mean and sample std (``ddof=1``; None when there is one value)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError('mean_std needs at least one value')
    mean = sum(vals) / len(vals)
    if len(vals) == 1:
        return Stat(mean, None, 1)
    var = sum((v - mean)**2 for v in vals) / (len(vals) - 1)
    return Stat(mean, math.sqrt(var), len(vals))


@dataclass(frozen=True)
class Column:
    """A leaderboard column: raw values × ``scale`` are shown with ``decimals``."""
    key: str
    title: str
    direction: int  # +1: higher is better, -1: lower is better
    scale: float = 1.0
    decimals: int = 2

    @property
    def header(self) -> str:
        return f'{self.title} {"↑" if self.direction > 0 else "↓"}'


def _metric_column(key: str, title: str, decimals: int) -> Column:
    return Column(key, title, METRIC_DIRECTIONS[key], 1.0, decimals)


#: Metric columns, in display order (shown when at least one row has the metric): the default set.
METRIC_COLUMNS: Tuple[Column, ...] = (
    _metric_column('mIoU', 'mIoU (%)', 2),
    _metric_column('pixel_acc', 'Pixel acc (%)', 2),
    _metric_column('abs_err', 'Abs err', 4),
    _metric_column('rel_err', 'Rel err', 4),
    _metric_column('d1', 'δ<1.25', 4),
)
#: Every metric a leaderboard can show (``metric_columns``): the default set and the Eigen depth metrics.
ALL_METRIC_COLUMNS: Tuple[Column, ...] = METRIC_COLUMNS + (
    _metric_column('abs_rel', 'AbsRel', 4),
    _metric_column('sq_rel', 'SqRel', 4),
    _metric_column('rmse', 'RMSE', 4),
    _metric_column('rmse_log', 'RMSE log', 4),
    _metric_column('d2', 'δ<1.25²', 4),
    _metric_column('d3', 'δ<1.25³', 4),
    # a second evaluation on the source domain's val split (a suite's ``extra_evaluations``: ``source_<metric>``)
    Column('source_mIoU', 'Source mIoU (%)', METRIC_DIRECTIONS['mIoU'], 1.0, 2),
    Column('source_pixel_acc', 'Source pixel acc (%)', METRIC_DIRECTIONS['pixel_acc'], 1.0, 2),
)
#: Cost columns (from ``cost.json``): deployed parameters, FLOPs and inference latency.
COST_COLUMNS: Tuple[Column, ...] = (
    Column('params', 'Params (M)', -1, 1e-6, 3),
    Column('flops', 'FLOPs (G)', -1, 1e-9, 3),
    Column('latency', 'Latency (ms)', -1, 1.0, 2),
)
#: Training cost per iteration (from ``cost.json``): not a table column (the tables keep their columns), but a
#: column of the chart, the HTML page and the JSON export, and a ``--sort-by`` key.
TRAIN_TIME_COLUMN = Column('train_time', 'Train step (s/iter)', -1, 1.0, 3)
#: Metrics Δm averages over by default (segmentation and depth, two each, as in MTAN / Maninis et al.).
DEFAULT_DM_METRICS: Tuple[str, ...] = ('mIoU', 'pixel_acc', 'abs_err', 'rel_err')
#: Other names a column can be asked for by (``--sort-by``).
ALIASES = {
    'miou': 'mIoU',
    'acc': 'pixel_acc',
    'pixel acc': 'pixel_acc',
    'aacc': 'pixel_acc',
    'delta1': 'd1',
    'δ<1.25': 'd1',
    'delta2': 'd2',
    'delta3': 'd3',
    'absrel': 'abs_rel',
    'sqrel': 'sq_rel',
    'rmselog': 'rmse_log',
    'rmse log': 'rmse_log',
    'source miou': 'source_mIoU',
    'source_miou': 'source_mIoU',
    'dm': 'delta_m',
    'Δm': 'delta_m',
    'deltam': 'delta_m',
    'parameters': 'params',
    'param': 'params',
    'gflops': 'flops',
    'time': 'latency',
    'train': 'train_time',
    'train_step': 'train_time',
    'train time': 'train_time',
}


def metric_columns(metrics: Optional[Sequence[str]] = None) -> Tuple[Column, ...]:
    """The metric columns of a leaderboard, in the order given: keys or aliases of
    :data:`ALL_METRIC_COLUMNS` (e.g. ``['abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3']``). None
    (or empty): the default :data:`METRIC_COLUMNS`. An unknown or repeated name is a ValueError."""
    if not metrics:
        return METRIC_COLUMNS
    if isinstance(metrics, str):
        metrics = [metrics]
    by_key = {c.key.lower(): c for c in ALL_METRIC_COLUMNS}
    out: List[Column] = []
    for name in metrics:
        key = ALIASES.get(name, ALIASES.get(str(name).lower(), name))
        col = by_key.get(str(key).lower())
        if col is None:
            raise ValueError(f'unknown leaderboard metric {name!r}; choose from '
                             f'{", ".join(c.key for c in ALL_METRIC_COLUMNS)}')
        if col in out:
            raise ValueError(f'leaderboard metric {col.key!r} is named twice in {list(metrics)}')
        out.append(col)
    return tuple(out)


def delta_m_column(ref_name: str, primary: bool) -> Column:
    """The Δm column of a reference set (the first set's column is plain ``delta_m``)."""
    if primary:
        return Column('delta_m', 'Δm (%)', 1, 1.0, 2)
    return Column(f'delta_m@{ref_name}', f'Δm vs {ref_name} (%)', 1, 1.0, 2)


#: How FLOPs are counted (stated in every cost record and report).
FLOPS_COUNTER = 'mmengine get_model_complexity_info (1 multiply-add = 1 FLOP)'


@dataclass(frozen=True)
class CostSettings:
    """How a model's cost is measured (``tools/analyze_cost.py`` flags, a suite's ``cost`` dict).

    Latency: ``warmup`` discarded forwards, then ``repeats`` timed ones of a ``batch_size`` batch. Training:
    at least ``train_warmup`` discarded steps (more until the step time settles), then ``train_iters`` timed
    ones of a ``train_batch_size`` batch (None: the config's), in a child process stopped after
    ``train_timeout`` seconds. ``input_size`` is (H, W); None: the config's test resolution.
    ``flops``/``latency``/``train`` switch the parts on and off.
    """
    input_size: Optional[Tuple[int, int]] = None
    batch_size: int = 1
    warmup: int = 5
    repeats: int = 20
    device: str = 'cpu'
    flops: bool = True
    latency: bool = True
    train: bool = True
    train_iters: int = 3
    train_warmup: int = 3
    train_batch_size: Optional[int] = None
    train_timeout: float = 600.0

    def __post_init__(self) -> None:
        if self.input_size is not None:
            object.__setattr__(self, 'input_size', tuple(int(s) for s in self.input_size))
        if self.repeats < 1 or self.warmup < 0 or self.train_iters < 1 or self.train_warmup < 0:
            raise ValueError(f'cost settings: repeats and train_iters must be >= 1, warm-ups >= 0; got {self}')

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]]) -> 'CostSettings':
        """Settings from a dict (a suite's ``cost``, a child's JSON); unknown keys are an error."""
        values = dict(values or {})
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f'unknown cost setting(s) {unknown}; known: {known}')
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready (``input_size`` as a list)."""
        out = asdict(self)
        out['input_size'] = list(self.input_size) if self.input_size else None
        return out

    def to_cli(self) -> List[str]:
        """The ``tools/analyze_cost.py`` flags that give these settings."""
        cmd = ['--device', self.device]
        for key in ('batch_size', 'warmup', 'repeats', 'train_iters', 'train_warmup'):
            cmd += ['--' + key.replace('_', '-'), str(getattr(self, key))]
        if self.input_size:
            cmd += ['--input-size', *map(str, self.input_size)]
        if self.train_batch_size:
            cmd += ['--train-batch-size', str(self.train_batch_size)]
        if self.train_timeout != CostSettings.train_timeout:
            cmd += ['--train-timeout', str(self.train_timeout)]
        for part in ('train', 'latency', 'flops'):
            if not getattr(self, part):
                cmd.append(f'--no-{part}')
        return cmd
