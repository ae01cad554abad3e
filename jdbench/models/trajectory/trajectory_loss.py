"""Knowledge-trajectory distillation (JointDistill, spec §4): the student follows its teachers' path."""
import contextlib
import logging
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub, print_log
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from jdbench.registry import MODELS
from .attention import (FeatureCapture, attention_map, essential_points, gather_points, grid_size,
                        resolve_module)
from .probe import PROBE_DEFAULTS, ProbeSet
from .trajectory_file import load_trajectory

SOURCES = ('recorded', 'final', 'student')
MILESTONE_RULES = ('nearest', 'next', 'previous')
STUDENT_MODES = ('train', 'eval')
_SOURCE_TEXT = {'recorded': "the teacher's recorded milestones",
                'final': "the final teacher's essential points",
                'student': "the student's own past milestones"}


def select_milestone(fractions: Sequence[float], s: float, rule: str = 'nearest') -> int:
    """Index of the milestone (fractions of the teacher's training, increasing) that matches progress ``s``.

    ``'nearest'``: the closest fraction (a tie goes to the later one); ``'next'``: the first fraction ``>= s``
    (the last one past the end); ``'previous'``: the last fraction ``<= s`` (the first one before it).
    """
    if not fractions:
        raise ValueError('select_milestone needs at least one milestone')
    if rule not in MILESTONE_RULES:
        raise ValueError(f'milestone rule must be one of {MILESTONE_RULES}, got {rule!r}')
    eps = 1e-9
    if rule == 'nearest':
        dist = [abs(f - s) for f in fractions]
        best = min(dist)
        return max(i for i, d in enumerate(dist) if d <= best + eps)
    if rule == 'next':
        return next((i for i, f in enumerate(fractions) if f >= s - eps), len(fractions) - 1)
    return max((i for i, f in enumerate(fractions) if f <= s + eps), default=0)


def trajectory_loss(student_map: Tensor, positions: Tensor, values: Tensor, width: int, index: int,
                    gamma: float = 0.5, normalize: bool = False) -> Tensor:
    """Decayed essential-point loss of one trajectory.

    ``L = sum_{j <= index} gamma^(index - j) * mean |A_S[P_j] - V_j|``, with ``P_j`` (M, k, 2) and ``V_j``
    (M, k) milestone ``j``'s essential points and attention values and ``A_S`` the student's maps on the same
    grid (width ``w``). ``normalize`` divides by the sum of the weights; ``gamma = 0`` keeps milestone
    ``index`` only.

    Args:
        student_map (Tensor): (M, h·w) L2-normalised student attention maps.
        positions (Tensor): (K, M, k, 2) int ``(row, col)``.
        values (Tensor): (K, M, k).
    """
    total: Optional[Tensor] = None
    weight_sum = 0.0
    for j in range(index, -1, -1):
        weight = float(gamma)**(index - j)
        if weight == 0.0:
            break
        pred = gather_points(student_map, positions[j], width)
        term = weight * (pred - values[j].to(pred)).abs().mean()
        total = term if total is None else total + term
        weight_sum += weight
    assert total is not None
    return total / weight_sum if normalize else total


@contextlib.contextmanager
def _probe_mode(model: nn.Module, mode: str) -> Iterator[None]:
    """``'eval'``: eval mode; ``'train'``: the current mode with BN running statistics left untouched."""
    if mode == 'eval':
        was = model.training
        model.eval()
        try:
            yield
        finally:
            model.train(was)
        return
    saved = []
    for m in model.modules():
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats:
            tracked = None if m.num_batches_tracked is None else m.num_batches_tracked.clone()
            saved.append((m, m.momentum, tracked))
            m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


@MODELS.register_module()
class TrajectoryDistillLoss(nn.Module):
    """Knowledge-trajectory loss: the student's attention maps follow its teachers' recorded path.

    Every ``interval`` iterations the student runs on the probe set (M fixed training images, test pipeline).
    With progress ``s = iteration / max_iters``, each task's target is the milestone ``m(s)`` of its teacher's
    trajectory at the same fraction of the teacher's training (``milestone`` rule), and
    ``L_task = sum_{j <= m} gamma^(m - j) * mean |A_S - A_T^j|`` at milestone ``j``'s essential points (the
    current milestone plus the earlier ones, decayed). The output is
    ``{'traj.loss_traj': loss_weight * sum_task L_task}``; iterations without a probe step return ``{}``.

    Sources per task (the run logs which one each task uses; :attr:`used_sources`):

    - ``'recorded'``: the file of :class:`~jdbench.engine.hooks.TrajectoryRecorderHook` from the teacher's own
      training (``files[task]``, else ``filename`` beside the teacher's checkpoint). A missing file falls back
      to ``fallback`` with a warning (``fallback=None``: an error).
    - ``'final'``: one milestone, attention transfer at the final (frozen) teacher's essential points,
      computed once on the probe set.
    - ``'student'``: the student's own past milestones, recorded at ``num_milestones`` evenly spaced points of
      its training (kept in checkpoints); no loss before the first one.

    Args:
        source (str): ``'recorded'``, ``'final'`` or ``'student'``. Defaults to 'recorded'.
        fallback (str | None): source when a recorded file is missing: ``'final'``, ``'student'`` or None
            (error). Defaults to 'final'.
        files (dict[str, str], optional): task -> trajectory file.
        filename (str): file name beside a teacher's checkpoint. Defaults to 'trajectory.pth'.
        tasks (list[str], optional): the tasks to distil. Defaults to the distiller's teachers.
        interval (int): iterations between probe steps. Defaults to 20.
        gamma (float): decay of the earlier milestones' weights. Defaults to 0.5.
        loss_weight (float): λ_traj. Defaults to 1.0.
        milestone (str): ``'nearest'`` (default), ``'next'`` or ``'previous'``; see :func:`select_milestone`.
        normalize (bool): divide by the sum of the milestone weights. Defaults to False (the spec's sum).
        p (float): attention exponent for 'final'/'student' (a recorded file's own ``p`` is used for its
            task). Defaults to 2.
        topk (int): essential points per image for 'final'/'student'. Defaults to 64.
        stride (int): input pixels per attention cell for 'final'/'student'. Defaults to 4.
        num_milestones (int): K for ``source='student'``. Defaults to 8.
        student_feature (str): module path in the student; ``{task}`` is replaced. Defaults to
            ``'heads.{task}.conv_seg'`` (the input of the head's last prediction layer).
        teacher_feature (str, optional): module path in a teacher's model for 'final'. Defaults to the
            teacher's last prediction layer (``Teacher.output_layer``, else ``'heads.{task}.conv_seg'``).
        feature_io (str): record the module's ``'input'`` (default) or ``'output'``.
        student_mode (str): ``'train'`` (default: the student's training behaviour, BN running statistics
            left untouched) or ``'eval'``. The loss back-propagates into the student in both.
        probe (dict): :class:`ProbeSet` arguments: ``dataset`` (the training dataset config) and ``pipeline``
            (the test pipeline) — None (default): taken from the running config (``train_dataloader.dataset``,
            the test/val dataloader's pipeline), as the teacher's recorder does, so data overrides apply to
            both —, ``num_images`` (16), ``seed`` (0), ``batch_size`` (16), ``exclude_holdout`` (True),
            ``hash_content`` (True).
        max_iters (int, optional): training length; defaults to the message hub's ``max_iters``.
    """

    def __init__(self,
                 source: str = 'recorded',
                 fallback: Optional[str] = 'final',
                 files: Optional[Dict[str, str]] = None,
                 filename: str = 'trajectory.pth',
                 tasks: Optional[List[str]] = None,
                 interval: int = 20,
                 gamma: float = 0.5,
                 loss_weight: float = 1.0,
                 milestone: str = 'nearest',
                 normalize: bool = False,
                 p: float = 2.0,
                 topk: int = 64,
                 stride: int = 4,
                 num_milestones: int = 8,
                 student_feature: str = 'heads.{task}.conv_seg',
                 teacher_feature: Optional[str] = None,
                 feature_io: str = 'input',
                 student_mode: str = 'train',
                 probe: Optional[dict] = None,
                 max_iters: Optional[int] = None) -> None:
        super().__init__()
        if source not in SOURCES:
            raise ValueError(f'source must be one of {SOURCES}, got {source!r}')
        if fallback not in (None, 'final', 'student'):
            raise ValueError(f"fallback must be 'final', 'student' or None, got {fallback!r}")
        if milestone not in MILESTONE_RULES:
            raise ValueError(f'milestone must be one of {MILESTONE_RULES}, got {milestone!r}')
        if student_mode not in STUDENT_MODES:
            raise ValueError(f'student_mode must be one of {STUDENT_MODES}, got {student_mode!r}')
        if interval < 1 or topk < 1 or num_milestones < 1 or not 0 <= gamma <= 1:
            raise ValueError('TrajectoryDistillLoss needs interval >= 1, topk >= 1, num_milestones >= 1 and '
                             f'0 <= gamma <= 1; got {interval}, {topk}, {num_milestones}, {gamma}')
        unknown = set(probe or {}) - set(PROBE_DEFAULTS)
        if unknown:
            raise ValueError(f'probe has unknown key(s) {sorted(unknown)}; allowed: {list(PROBE_DEFAULTS)}')
        self.source, self.fallback = source, fallback
        self.files, self.filename = dict(files or {}), filename
        self.tasks = list(tasks) if tasks else None
        self.interval, self.gamma, self.loss_weight = int(interval), float(gamma), float(loss_weight)
        self.milestone, self.normalize = milestone, bool(normalize)
        self.p, self.topk, self.stride = float(p), int(topk), int(stride)
        self.num_milestones = int(num_milestones)
        self.student_feature, self.teacher_feature = student_feature, teacher_feature
        self.feature_io, self.student_mode = feature_io, student_mode
        self.probe_cfg = {**PROBE_DEFAULTS, **(probe or {})}
        self.max_iters = max_iters
        self.probe: Optional[ProbeSet] = None
        #: task -> 'recorded' | 'final' | 'student', set by :meth:`prepare`
        self.used_sources: Dict[str, str] = {}
        # task -> dict(positions (K, M, k, 2), values (K, M, k), milestones [K], size (h, w), p, path, ...)
        self._targets: Dict[str, Dict[str, Any]] = {}
        # source 'student': task -> dict(milestones [..], positions [(M, k, 2)], values [(M, k)], size)
        self._student_traj: Dict[str, Dict[str, Any]] = {}
        self._checked = False
        self._last_input_size: Optional[Tuple[int, int]] = None
        self._warned_size = False

    # ----------------------------------------------------------------- set-up
    @staticmethod
    def _teacher(distiller: nn.Module, task: str) -> nn.Module:
        teachers = getattr(distiller, 'teachers', None) or {}
        if task not in teachers:
            raise KeyError(f'TrajectoryDistillLoss: no teacher for task {task!r} (teachers: '
                           f'{list(teachers)})')
        return teachers[task]

    def _teacher_file(self, distiller: nn.Module, task: str) -> Optional[str]:
        if task in self.files:
            return self.files[task]
        teacher = (getattr(distiller, 'teachers', None) or {}).get(task)
        ckpt = getattr(teacher, 'checkpoint', None)
        return osp.join(osp.dirname(ckpt), self.filename) if ckpt else None

    def _teacher_feature_path(self, teacher: nn.Module, task: str) -> str:
        if self.teacher_feature is not None:
            return self.teacher_feature.format(task=task)
        return getattr(teacher, 'output_layer', None) or f'heads.{task}.conv_seg'

    def prepare(self, distiller: nn.Module) -> None:
        """Choose each task's source, load the recorded trajectories, check the feature paths (once)."""
        student = distiller.student
        teachers = getattr(distiller, 'teachers', None) or {}
        tasks = self.tasks or [t for t in getattr(student, 'task_names', []) if t in teachers]
        if not tasks and self.source == 'student':
            tasks = list(getattr(student, 'task_names', []))
        if not tasks:
            raise ValueError('TrajectoryDistillLoss: no task to distil (no teacher matches a student head); '
                             'set tasks=')
        self.tasks = tasks
        for task in tasks:
            resolve_module(student, self.student_feature.format(task=task), f'the student (task {task!r})')
        for task in tasks:
            self.used_sources[task] = self._choose_source(distiller, task)
            if self.used_sources[task] == 'final':
                teacher = self._teacher(distiller, task)
                resolve_module(getattr(teacher, 'model', teacher), self._teacher_feature_path(teacher, task),
                               f'teacher {task!r}')
        self._checked = False

    def _choose_source(self, distiller: nn.Module, task: str) -> str:
        if self.source != 'recorded':
            print_log(f'TrajectoryDistillLoss: task {task!r} uses source={self.source!r} '
                      f'({_SOURCE_TEXT[self.source]})', logger='current')
            return self.source
        path = self._teacher_file(distiller, task)
        if path is not None and osp.isfile(path):
            self._load_recorded(task, path)
            return 'recorded'
        where = path if path is not None else '(no file given and the teacher has no checkpoint path)'
        if self.fallback is None:
            raise FileNotFoundError(
                f'TrajectoryDistillLoss: no recorded trajectory for task {task!r} at {where}. Train the '
                'teacher with a TrajectoryRecorderHook in its custom_hooks, set trajectory.files, or set '
                "fallback='final' or 'student'.")
        print_log(f'TrajectoryDistillLoss: no recorded trajectory for task {task!r} at {where}; falling back '
                  f'to source={self.fallback!r} ({_SOURCE_TEXT[self.fallback]})', logger='current',
                  level=logging.WARNING)
        return self.fallback

    def _load_recorded(self, task: str, path: str) -> None:
        traj = load_trajectory(path)
        if traj['task'] != task:
            print_log(f'TrajectoryDistillLoss: {path} was recorded for task {traj["task"]!r}, used for '
                      f'{task!r}', logger='current', level=logging.WARNING)
        fractions = [float(f) for f in traj['milestones']]
        if not traj.get('complete', True):
            print_log(f'TrajectoryDistillLoss: {path} is incomplete (milestones up to {fractions[-1]:.3f} of '
                      "the teacher's training)", logger='current', level=logging.WARNING)
        if float(traj['p']) != self.p:
            print_log(f'TrajectoryDistillLoss: {path} uses p={traj["p"]}; the student maps of task {task!r} '
                      'use it too (the config p applies to fallbacks only)', logger='current')
        self._targets[task] = dict(
            positions=traj['positions'], values=traj['values'], milestones=fractions,
            size=tuple(int(s) for s in traj['size']), p=float(traj['p']), path=path,
            probe_hash=traj['probe_hash'], probe_paths=list(traj['probe_paths']),
            input_size=traj.get('input_size'))
        h, w = traj['size']
        print_log(f"TrajectoryDistillLoss: task {task!r} uses source='recorded' "
                  f"({_SOURCE_TEXT['recorded']}): {path} ({len(fractions)} milestones, "
                  f"M={traj['values'].shape[1]}, k={traj['k']}, feature {traj['feature']!r}, grid {h}x{w})",
                  logger='current')

    def _probe(self) -> ProbeSet:
        if self.probe is None:
            cfg = dict(self.probe_cfg)
            if cfg['dataset'] is None or cfg['pipeline'] is None:
                self.probe = ProbeSet.from_config(self._run_config(), **cfg)
            else:
                self.probe = ProbeSet(**cfg)
        return self.probe

    @staticmethod
    def _run_config() -> Config:
        """The running config (with its command-line overrides) that the Runner keeps in the message hub."""
        text = MessageHub.get_current_instance().get_info('cfg')
        if not text:
            raise ValueError('TrajectoryDistillLoss: probe.dataset/pipeline are not set and there is no '
                             'runner config in the message hub to take them from; set probe=dict('
                             'dataset=<training dataset config>, pipeline=<test pipeline>)')
        return Config.fromstring(text, file_format='.py')

    @staticmethod
    def _preprocess(distiller: nn.Module, batch: dict) -> Tuple[Tensor, list]:
        data = distiller.data_preprocessor(batch, False)
        return data['inputs'], data['data_samples']

    def _check(self, distiller: nn.Module) -> None:
        """First probe step: the probe-set hash of recorded files; the 'final' targets of frozen teachers."""
        if self._checked:
            return
        probe = self._probe()
        for task, src in self.used_sources.items():
            if src != 'recorded':
                continue
            tgt = self._targets[task]
            if tgt['probe_hash'] != probe.hash:
                raise ValueError(
                    f"TrajectoryDistillLoss: trajectory {tgt['path']} (task {task!r}) was recorded on probe "
                    f"set {tgt['probe_hash']} (first images {tgt['probe_paths'][:3]}), but this run's probe "
                    f'set is {probe.hash} (first images {probe.paths[:3]}). Use the same training split, '
                    "probe.num_images and probe.seed as the teacher's TrajectoryRecorderHook, or set "
                    "source='final'.")
        finals = [t for t, src in self.used_sources.items() if src == 'final' and t not in self._targets]
        if finals:
            self._final_targets(distiller, finals)
        self._checked = True

    @torch.no_grad()
    def _final_targets(self, distiller: nn.Module, tasks: List[str]) -> None:
        """One milestone per task: the frozen teacher's attention maps and their essential points."""
        for task in tasks:
            teacher = self._teacher(distiller, task)
            model = getattr(teacher, 'model', teacher)
            path = self._teacher_feature_path(teacher, task)
            maps, size = [], (0, 0)
            with FeatureCapture(model, {task: path}, self.feature_io, f'teacher {task!r}') as cap:
                for batch in self._probe().batches():
                    inputs, samples = self._preprocess(distiller, batch)
                    size = grid_size(inputs.shape[-2:], self.stride)
                    if hasattr(teacher, 'model'):
                        teacher(inputs)  # the Teacher wrapper: maps the input normalisation to its own
                    else:
                        teacher(inputs=inputs, data_samples=samples, mode='tensor')
                    maps.append(attention_map(cap.pop(task), self.p, size))
            amap = torch.cat(maps)
            positions, values = essential_points(amap, self.topk, size[1])
            self._targets[task] = dict(positions=positions[None].cpu(), values=values[None].cpu(),
                                       milestones=[1.0], size=size, p=self.p, path=None)
            print_log(f'TrajectoryDistillLoss: task {task!r}: final-teacher targets computed at {path!r} '
                      f'({amap.shape[0]} probe images, grid {size[0]}x{size[1]}, k={self.topk})',
                      logger='current')

    # ----------------------------------------------------------------- student maps
    def _task_p_size(self, task: str, input_size: Sequence[int]) -> Tuple[float, Tuple[int, int]]:
        tgt = self._targets.get(task)
        if tgt is not None:
            return tgt['p'], tgt['size']
        traj = self._student_traj.get(task)
        if traj is not None and traj.get('size') is not None:
            return self.p, tuple(traj['size'])
        return self.p, grid_size(input_size, self.stride)

    def student_maps(self, distiller: nn.Module) -> Dict[str, Tensor]:
        """The student's attention maps on the probe set, ``{task: (M, h·w)}`` on each task's target grid
        (differentiable)."""
        student = distiller.student
        paths = {task: self.student_feature.format(task=task) for task in self.tasks}
        maps: Dict[str, List[Tensor]] = {task: [] for task in self.tasks}
        capture = FeatureCapture(student, paths, self.feature_io, 'the student')
        with _probe_mode(student, self.student_mode), capture:
            for batch in self._probe().batches():
                inputs, samples = self._preprocess(distiller, batch)
                self._last_input_size = tuple(inputs.shape[-2:])
                student(inputs=inputs, data_samples=samples, mode='tensor')
                for task in self.tasks:
                    p, size = self._task_p_size(task, inputs.shape[-2:])
                    maps[task].append(attention_map(capture.pop(task), p, size))
        return {task: torch.cat(m) for task, m in maps.items()}

    # ----------------------------------------------------------------- forward
    def _max_iters(self, max_iters: Optional[int]) -> int:
        max_iters = max_iters or self.max_iters or MessageHub.get_current_instance().get_info('max_iters')
        if not max_iters:
            raise ValueError('TrajectoryDistillLoss needs the training length: no max_iters in the message '
                             'hub; set trajectory.max_iters')
        return int(max_iters)

    def forward(self, distiller: nn.Module, iteration: int,
                max_iters: Optional[int] = None) -> Dict[str, Tensor]:
        """``{'traj.loss_traj': loss}`` at probe steps (``iteration % interval == 0``), else ``{}``."""
        if int(iteration) % self.interval != 0:
            return {}
        if not self.used_sources:
            self.prepare(distiller)
        s = min(1.0, max(0.0, int(iteration) / self._max_iters(max_iters)))
        self._check(distiller)
        maps = self.student_maps(distiller)
        self._check_input_size()
        total: Optional[Tensor] = None
        for task in self.tasks:
            amap = maps[task]
            if self.used_sources[task] == 'student':
                traj = self._student_traj.get(task)
                if not traj or not traj['milestones']:
                    continue
                positions, values = torch.stack(traj['positions']), torch.stack(traj['values'])
                index, width = len(traj['milestones']) - 1, int(traj['size'][1])
            else:
                tgt = self._targets[task]
                positions, values, width = tgt['positions'], tgt['values'], int(tgt['size'][1])
                index = select_milestone(tgt['milestones'], s, self.milestone)
            loss = trajectory_loss(amap, positions.to(amap.device), values.to(amap.device), width, index,
                                   self.gamma, self.normalize)
            total = loss if total is None else total + loss
        self._record_student_milestones(maps, s)
        return {} if total is None else {'traj.loss_traj': self.loss_weight * total}

    def _check_input_size(self) -> None:
        if self._warned_size:
            return
        for task, tgt in self._targets.items():
            rec = tgt.get('input_size')
            if rec is not None and tuple(int(v) for v in rec) != tuple(self._last_input_size):
                self._warned_size = True
                print_log(f'TrajectoryDistillLoss: the probe images enter the student at '
                          f"{self._last_input_size}, but task {task!r}'s trajectory was recorded at "
                          f'{tuple(rec)} (other test pipelines); the maps are resized to the recorded grid',
                          logger='current', level=logging.WARNING)

    def _record_student_milestones(self, maps: Dict[str, Tensor], s: float) -> None:
        """Source 'student': keep the current maps' essential points once a new milestone is passed."""
        due = [j / self.num_milestones for j in range(1, self.num_milestones + 1)]
        for task in self.tasks:
            if self.used_sources.get(task) != 'student':
                continue
            traj = self._student_traj.setdefault(
                task, dict(milestones=[], positions=[], values=[], size=None))
            last = traj['milestones'][-1] if traj['milestones'] else -1.0
            passed = [f for f in due if last < f <= s + 1e-9]
            if not passed:
                continue
            _, size = self._task_p_size(task, self._last_input_size)
            positions, values = essential_points(maps[task].detach(), self.topk, size[1])
            traj['milestones'].append(passed[-1])
            traj['positions'].append(positions.cpu())
            traj['values'].append(values.cpu())
            traj['size'] = list(size)
            print_log(f"TrajectoryDistillLoss: task {task!r}: student milestone {len(traj['milestones'])} "
                      f'recorded at {passed[-1]:.3f} of training', logger='current')

    # ----------------------------------------------------------------- checkpoints (source 'student')
    def get_extra_state(self) -> Dict[str, Any]:
        out = {}
        for task, traj in self._student_traj.items():
            if traj['milestones']:
                out[task] = dict(milestones=list(traj['milestones']), size=list(traj['size']),
                                 positions=torch.stack(traj['positions']), values=torch.stack(traj['values']))
        # A plain tensor while nothing is recorded: at the start of a distributed run (before any resume)
        # mmengine's Runner broadcasts every state-dict entry, and its broadcast takes tensors only.
        return {'student_trajectory': out} if out else torch.zeros(())

    def set_extra_state(self, state: Any) -> None:
        if not isinstance(state, dict):  # nothing was recorded
            return
        for task, traj in state.get('student_trajectory', {}).items():
            self._student_traj[task] = dict(milestones=[float(f) for f in traj['milestones']],
                                            size=[int(v) for v in traj['size']],
                                            positions=[p.cpu() for p in traj['positions'].unbind(0)],
                                            values=[v.cpu() for v in traj['values'].unbind(0)])

    def extra_repr(self) -> str:
        return (f'source={self.source!r}, fallback={self.fallback!r}, interval={self.interval}, '
                f'gamma={self.gamma}, loss_weight={self.loss_weight}, used_sources={self.used_sources}')
