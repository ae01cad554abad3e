"""Record a teacher's knowledge trajectory during its own training (JointDistill, spec §4)."""
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import Tensor

from jdbench.models.trajectory import (PROBE_DEFAULTS, FeatureCapture, ProbeSet, attention_map,
                                       essential_points, grid_size, load_trajectory, save_trajectory)
from jdbench.registry import HOOKS


def milestone_iters(max_iters: int, num_milestones: int) -> List[int]:
    """K iterations evenly spaced over training, the last at ``max_iters``: ``round(j * max_iters / K)``,
    j = 1..K (duplicates, when K > max_iters, are dropped)."""
    return sorted({max(1, round(j * max_iters / num_milestones)) for j in range(1, num_milestones + 1)})


@HOOKS.register_module()
class TrajectoryRecorderHook(Hook):
    """Record the model's attention maps on the probe set at K milestones of its training.

    Put it in a single-task teacher's training config. At each milestone (``num_milestones`` iterations
    evenly spaced over training, the last at its end) the model runs in eval mode, without gradients, on the
    probe set (``probe``; by default ``num_images`` images of ``train_dataloader.dataset`` under the test
    pipeline). The attention map ``A = mean_c |F|^p`` of the feature at ``feature`` is resized to the grid of
    ``stride`` and L2-normalised, and its top-``topk`` essential points (positions and values) are kept.
    ``{work_dir}/{filename}`` is rewritten after every milestone (format:
    :mod:`jdbench.models.trajectory.trajectory_file`), so an interrupted run keeps what it recorded and a
    resumed run continues the file. Only the main process records.

    Args:
        num_milestones (int): K. Defaults to 8.
        topk (int): essential points per image. Defaults to 64.
        p (float): attention exponent. Defaults to 2.
        stride (int): input pixels per attention cell. Defaults to 4 (the resolution of the suite's heads).
        feature (str, optional): module path; ``{task}`` is replaced. Defaults to the last prediction layer
            (``'heads.{task}.conv_seg'``; ``'decode_head.conv_seg'`` for an mmseg segmentor).
        feature_io (str): ``'input'`` (default) or ``'output'`` of that module.
        task (str, optional): the task name stored in the file. Defaults to the model's only head.
        probe (dict, optional): :class:`~jdbench.models.trajectory.ProbeSet` arguments (``num_images=16``,
            ``seed=0``, ``dataset``, ``pipeline``, ``batch_size``, ``exclude_holdout``, ``hash_content``).
        filename (str): file name in the work dir. Defaults to 'trajectory.pth'.
    """

    priority = 'LOW'  # after the optimizer step and the LR update, before CheckpointHook (VERY_LOW)

    def __init__(self,
                 num_milestones: int = 8,
                 topk: int = 64,
                 p: float = 2.0,
                 stride: int = 4,
                 feature: Optional[str] = None,
                 feature_io: str = 'input',
                 task: Optional[str] = None,
                 probe: Optional[dict] = None,
                 filename: str = 'trajectory.pth') -> None:
        if num_milestones < 1 or topk < 1 or stride < 1:
            raise ValueError('TrajectoryRecorderHook needs num_milestones, topk and stride >= 1')
        unknown = set(probe or {}) - set(PROBE_DEFAULTS)
        if unknown:
            raise ValueError(f'probe has unknown key(s) {sorted(unknown)}; allowed: {list(PROBE_DEFAULTS)}')
        self.num_milestones, self.topk, self.p = int(num_milestones), int(topk), float(p)
        self.stride, self.feature, self.feature_io, self.task = int(stride), feature, feature_io, task
        self.probe_cfg = dict(probe or {})
        self.filename = filename
        self.probe: Optional[ProbeSet] = None
        self.iters: List[int] = []
        self.record: Dict[str, Any] = {}
        self.size: Optional[Tuple[int, int]] = None
        self.input_size: Optional[Tuple[int, int]] = None

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _model(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _task_and_path(self, model: nn.Module) -> Tuple[str, str]:
        if hasattr(model, 'heads'):
            heads = list(model.heads)
            task = self.task
            if task is None:
                if len(heads) != 1:
                    raise ValueError(f'TrajectoryRecorderHook: the model has heads {heads}; set task= to '
                                     'the one whose trajectory is recorded')
                task = heads[0]
            default = f'heads.{task}.conv_seg'
        else:
            task, default = self.task or 'seg', 'decode_head.conv_seg'
        return task, (self.feature.format(task=task) if self.feature else default)

    @property
    def path(self) -> str:
        return osp.join(self.work_dir, self.filename)

    # ----------------------------------------------------------------- hook points
    def before_train(self, runner) -> None:
        model = self._model(runner)
        self.work_dir = runner.work_dir
        self.task_name, self.feature_path = self._task_and_path(model)
        FeatureCapture(model, {'f': self.feature_path}, self.feature_io, 'the trained model')  # path check
        self.max_iters = int(runner.max_iters)
        self.iters = milestone_iters(self.max_iters, self.num_milestones)
        if len(self.iters) < self.num_milestones:
            print_log(f'TrajectoryRecorderHook: only {len(self.iters)} distinct milestones in '
                      f'{self.max_iters} iterations', logger='current', level=logging.WARNING)
        self.probe = ProbeSet.from_config(runner.cfg, **self.probe_cfg)
        self.record = dict(milestones=[], milestone_iters=[], positions=[], values=[])
        if runner.iter > 0 and osp.isfile(self.path) and is_main_process():
            self._continue(runner.iter)
        print_log(f'TrajectoryRecorderHook: task {self.task_name!r}, feature {self.feature_path!r} '
                  f'({self.feature_io}), milestones at iterations {self.iters}, {self.probe.num_images} '
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
            self.record_milestone(self._model(runner), it)

    def after_train(self, runner) -> None:
        if is_main_process() and self.record.get('milestones'):
            done = len(self.record['milestones'])
            print_log(f'TrajectoryRecorderHook: {done}/{len(self.iters)} milestones recorded in {self.path}',
                      logger='current', level=logging.INFO if done == len(self.iters) else logging.WARNING)

    # ----------------------------------------------------------------- recording
    @torch.no_grad()
    def attention(self, model: nn.Module) -> Tuple[Tensor, Tuple[int, int], Tuple[int, int]]:
        """The model's attention maps on the probe set: (M, h·w) maps, the (h, w) grid, the (H, W) input."""
        was = model.training
        model.eval()
        maps, size, input_size = [], (0, 0), (0, 0)
        try:
            with FeatureCapture(model, {'f': self.feature_path}, self.feature_io, 'the trained model') as cap:
                for batch in self.probe.batches():
                    data = model.data_preprocessor(batch, False)
                    input_size = tuple(int(s) for s in data['inputs'].shape[-2:])
                    size = grid_size(input_size, self.stride)
                    model(inputs=data['inputs'], data_samples=data['data_samples'], mode='tensor')
                    maps.append(attention_map(cap.pop('f'), self.p, size))
        finally:
            model.train(was)
        return torch.cat(maps), size, input_size

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
                    input_size=[int(s) for s in self.input_size], probe_paths=self.probe.paths,
                    probe_hash=self.probe.hash, probe_seed=self.probe.seed,
                    milestones=list(rec['milestones']), milestone_iters=list(rec['milestone_iters']),
                    max_iters=self.max_iters, complete=len(rec['milestones']) == len(self.iters),
                    positions=torch.stack(rec['positions']), values=torch.stack(rec['values']))
