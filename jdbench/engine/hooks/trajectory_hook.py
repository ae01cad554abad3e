"""The knowledge trajectory's hooks (JointDistill, docs/methods.md): record it in a teacher's training
(:class:`TrajectoryRecorderHook`), feed it to the distiller in the student's (:class:`TrajectoryHook`)."""
import copy
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import FUNCTIONS
from torch import Tensor

from jdbench.models.teachers.recorder import prediction_layer, resolve_module
from jdbench.models.trajectory import (Probe, attention_maps, essential_points, grid_size, load_trajectory,
                                       save_trajectory)
from jdbench.registry import DATASETS, HOOKS


def load_probe(dataloader: dict) -> Probe:
    """The probe set of a ``probe_dataloader`` config (``dataset``, ``batch_size``, ``collate_fn``), collated
    once, in order. Every process loads the whole set; no random number is drawn."""
    cfg = copy.deepcopy(dict(dataloader))
    dataset = cfg['dataset']
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    collate = dict(cfg.get('collate_fn') or dict(type='pseudo_collate'))
    collate_fn = FUNCTIONS.get(collate.pop('type'))
    size = int(cfg.get('batch_size', 1))
    batches = [collate_fn([dataset[i] for i in range(start, min(start + size, len(dataset)))], **collate)
               for start in range(0, len(dataset), size)]
    return Probe(batches, getattr(dataset, 'hash', None), getattr(dataset, 'keys', None))


def _unwrap(runner) -> nn.Module:
    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def milestone_iters(max_iters: int, num_milestones: int) -> List[int]:
    """K iterations evenly spaced over training, the last at ``max_iters``: ``round(j * max_iters / K)``,
    j = 1..K (duplicates, when K > max_iters, are dropped)."""
    return sorted({max(1, round(j * max_iters / num_milestones)) for j in range(1, num_milestones + 1)})


@HOOKS.register_module()
class TrajectoryRecorderHook(Hook):
    """Record the model's attention maps on the probe set at K milestones of its training.

    Put it in a single-task teacher's training config. At each milestone (``num_milestones`` iterations
    evenly spaced over training, the last at its end) the model runs in eval mode, without gradients, on the
    probe set (``probe_dataloader``: a :class:`~jdbench.datasets.ProbeSubset` of the training images under the
    test pipeline, declared once in the dataset base configs as ``probe_dataloader``). The attention map ``A = mean_c |F|^p`` of the feature at ``feature`` is resized to the grid of
    ``stride`` and L2-normalised, and its top-``topk`` essential points (positions and values) are kept.
    ``{work_dir}/{filename}`` is rewritten after every milestone (format:
    :mod:`jdbench.models.trajectory.trajectory_file`), so an interrupted run keeps what it recorded and a
    resumed run continues the file. Only the main process records.

    Args:
        num_milestones (int): K. Defaults to 8.
        topk (int): essential points per image. Defaults to 64.
        p (float): attention exponent. Defaults to 2.
        stride (int): input pixels per attention cell. Defaults to 4 (the resolution of the suite's heads).
        feature (str, optional): module path; ``{task}`` is replaced. Defaults to the task's prediction layer
            (:func:`~jdbench.models.teachers.prediction_layer`).
        feature_io (str): ``'input'`` (default) or ``'output'`` of that module.
        task (str, optional): the task name stored in the file. Defaults to the model's only head.
        probe_dataloader (dict): the probe set's dataloader config (``dataset``, ``batch_size``).
        filename (str): file name in the work dir. Defaults to 'trajectory.pth'.
    """

    priority = 'LOW'  # after the optimizer step and the LR update, before CheckpointHook (VERY_LOW)

    def __init__(self,
                 probe_dataloader: dict,
                 num_milestones: int = 8,
                 topk: int = 64,
                 p: float = 2.0,
                 stride: int = 4,
                 feature: Optional[str] = None,
                 feature_io: str = 'input',
                 task: Optional[str] = None,
                 filename: str = 'trajectory.pth') -> None:
        if num_milestones < 1 or topk < 1 or stride < 1:
            raise ValueError('TrajectoryRecorderHook needs num_milestones, topk and stride >= 1')
        self.probe_dataloader = copy.deepcopy(dict(probe_dataloader))
        self.num_milestones, self.topk, self.p = int(num_milestones), int(topk), float(p)
        self.stride, self.feature, self.feature_io, self.task = int(stride), feature, feature_io, task
        self.filename = filename
        self.probe: Optional[Probe] = None
        self.iters: List[int] = []
        self.record: Dict[str, Any] = {}
        self.size: Optional[Tuple[int, int]] = None
        self.input_size: Optional[Tuple[int, int]] = None

    # ----------------------------------------------------------------- helpers
    def _task_and_path(self, model: nn.Module) -> Tuple[str, str]:
        if hasattr(model, 'heads'):
            heads = list(model.heads)
            task = self.task
            if task is None:
                if len(heads) != 1:
                    raise ValueError(f'TrajectoryRecorderHook: the model has heads {heads}; set task= to '
                                     'the one whose trajectory is recorded')
                task = heads[0]
        else:
            task = self.task or 'seg'
        path = self.feature.format(task=task) if self.feature else prediction_layer(
            model, task if hasattr(model, 'heads') else None)
        return task, path

    @property
    def path(self) -> str:
        return osp.join(self.work_dir, self.filename)

    # ----------------------------------------------------------------- hook points
    def before_train(self, runner) -> None:
        model = _unwrap(runner)
        self.work_dir = runner.work_dir
        self.task_name, self.feature_path = self._task_and_path(model)
        resolve_module(model, self.feature_path, 'the trained model')
        self.max_iters = int(runner.max_iters)
        self.iters = milestone_iters(self.max_iters, self.num_milestones)
        if len(self.iters) < self.num_milestones:
            print_log(f'TrajectoryRecorderHook: only {len(self.iters)} distinct milestones in '
                      f'{self.max_iters} iterations', logger='current', level=logging.WARNING)
        self.probe = load_probe(self.probe_dataloader)
        self.record = dict(milestones=[], milestone_iters=[], positions=[], values=[])
        if runner.iter > 0 and osp.isfile(self.path) and is_main_process():
            self._continue(runner.iter)
        print_log(f'TrajectoryRecorderHook: task {self.task_name!r}, feature {self.feature_path!r} '
                  f'({self.feature_io}), milestones at iterations {self.iters}, {len(self.probe.keys)} '
                  f'probe images, top-{self.topk} points -> {self.path}', logger='current')

    def _continue(self, iteration: int) -> None:
        """Resume: keep the milestones that the interrupted run recorded up to ``iteration``."""
        old = load_trajectory(self.path)
        if old['probe_hash'] != self.probe.hash or old['feature'] != self.feature_path:
            print_log(f'TrajectoryRecorderHook: {self.path} was recorded on another probe set or feature; '
                      'starting a new trajectory', logger='current', level=logging.WARNING)
            return
        for j, it in enumerate(old.get('milestone_iters', [])):
            if it <= iteration and it in self.iters:
                self.record['milestones'].append(float(old['milestones'][j]))
                self.record['milestone_iters'].append(int(it))
                self.record['positions'].append(old['positions'][j])
                self.record['values'].append(old['values'][j])
        self.size, self.input_size = tuple(old['size']), tuple(old.get('input_size') or old['size'])
        print_log(f'TrajectoryRecorderHook: resumed with {len(self.record["milestones"])} recorded '
                  'milestones', logger='current')

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        it = runner.iter + 1
        if it in self.iters and it not in self.record['milestone_iters'] and is_main_process():
            self.record_milestone(_unwrap(runner), it)

    def after_train(self, runner) -> None:
        if is_main_process() and self.record.get('milestones'):
            done = len(self.record['milestones'])
            print_log(f'TrajectoryRecorderHook: {done}/{len(self.iters)} milestones recorded in {self.path}',
                      logger='current', level=logging.INFO if done == len(self.iters) else logging.WARNING)

    # ----------------------------------------------------------------- recording
    @torch.no_grad()
    def attention(self, model: nn.Module) -> Tuple[Tensor, Tuple[int, int], Tuple[int, int]]:
        """The model's attention maps on the probe set: (M, h·w) maps, the (h, w) grid, the (H, W) input."""
        def forward(batch: dict) -> Tuple[int, int]:
            data = model.data_preprocessor(batch, False)
            model(inputs=data['inputs'], data_samples=data['data_samples'], mode='tensor')
            return tuple(data['inputs'].shape[-2:])

        was = model.training
        model.eval()
        try:
            maps, input_size = attention_maps(model, {'f': self.feature_path}, self.probe.batches, forward,
                                              lambda key, size: (self.p, grid_size(size, self.stride)),
                                              self.feature_io, 'the trained model')
        finally:
            model.train(was)
        return maps['f'], grid_size(input_size, self.stride), input_size

    def record_milestone(self, model: nn.Module, iteration: int) -> None:
        """Record the milestone of ``iteration`` and rewrite the trajectory file."""
        maps, self.size, self.input_size = self.attention(model)
        positions, values = essential_points(maps, self.topk, self.size[1])
        self.record['milestones'].append(iteration / self.max_iters)
        self.record['milestone_iters'].append(iteration)
        self.record['positions'].append(positions.cpu())
        self.record['values'].append(values.cpu())
        save_trajectory(self.payload(), self.path)
        print_log(f'TrajectoryRecorderHook: milestone {len(self.record["milestones"])}/{len(self.iters)} at '
                  f'iteration {iteration} -> {self.path}', logger='current')

    def payload(self) -> Dict[str, Any]:
        """The trajectory record as written to the file."""
        rec = self.record
        return dict(task=self.task_name, feature=self.feature_path, feature_io=self.feature_io, p=self.p,
                    k=self.topk, stride=self.stride, size=[int(s) for s in self.size],
                    input_size=[int(s) for s in self.input_size], probe_paths=list(self.probe.keys),
                    probe_hash=self.probe.hash,
                    milestones=list(rec['milestones']), milestone_iters=list(rec['milestone_iters']),
                    max_iters=self.max_iters, complete=len(rec['milestones']) == len(self.iters),
                    positions=torch.stack(rec['positions']), values=torch.stack(rec['values']))


@HOOKS.register_module()
class TrajectoryHook(Hook):
    """Feed JointDistill's knowledge-trajectory term in the student's training.

    Loads the probe set once (``probe_dataloader``, the same as the teachers' :class:`TrajectoryRecorderHook`)
    and, before every iteration, calls the model's one narrow method ``feed_trajectory(probe, progress)``: the
    probe set every ``interval`` iterations (else None), and ``progress = iteration / max_iters``. A model
    without a trajectory term (``trajectory=None``) leaves the hook idle.

    Args:
        probe_dataloader (dict): the probe set's dataloader config (``dataset``, ``batch_size``).
        interval (int): iterations between probe steps. Defaults to 20.
    """

    priority = 'NORMAL'

    def __init__(self, probe_dataloader: dict, interval: int = 20) -> None:
        if interval < 1:
            raise ValueError(f'TrajectoryHook needs interval >= 1, got {interval}')
        self.probe_dataloader = copy.deepcopy(dict(probe_dataloader))
        self.interval = int(interval)
        self.probe: Optional[Probe] = None

    def before_train(self, runner) -> None:
        model = _unwrap(runner)
        if not callable(getattr(model, 'feed_trajectory', None)):
            raise TypeError(f'TrajectoryHook feeds models with feed_trajectory(probe, progress); '
                            f'{type(model).__name__} has none (use it with JointDistill)')
        if getattr(model, 'trajectory', None) is None:
            print_log('TrajectoryHook: the model has no trajectory term; the hook is idle', logger='current')
            return
        self.probe = load_probe(self.probe_dataloader)
        print_log(f'TrajectoryHook: {sum(len(b["inputs"]) for b in self.probe.batches)} probe images every '
                  f'{self.interval} iterations', logger='current')

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        if self.probe is None:
            return
        it = int(runner.iter)
        _unwrap(runner).feed_trajectory(self.probe if it % self.interval == 0 else None, it / runner.max_iters)
