"""Knowledge-trajectory distillation (JointDistill, docs/methods.md): the student follows its teachers' path."""
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers.recorder import prediction_layer, resolve_module
from .attention import essential_points, gather_points, grid_size
from .probe import Probe
from .trajectory_file import load_trajectory

SOURCES = ('recorded', 'final', 'student')
MILESTONE_RULES = ('nearest', 'next', 'previous')
STUDENT_MODES = ('train', 'eval')
#: arguments of the pre-redesign loss that now belong to TrajectoryHook (configs/_base_/models/jointdistill.py)
MOVED_TO_HOOK = ('interval', 'probe', 'filename', 'max_iters')
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


@MODELS.register_module()
class TrajectoryDistillLoss(nn.Module):
    """Knowledge-trajectory loss: the student's attention maps follow its teachers' recorded path.

    It holds each task's targets and the student's own milestones, and turns the student's attention maps on the
    probe set into ``{'traj.loss_traj': loss}``. It runs no network and reads no global state: the distiller
    computes the maps (:meth:`~jdbench.models.JointDistill.feed_trajectory` receives the probe set and the training
    progress from :class:`~jdbench.engine.hooks.TrajectoryHook`). With progress ``s``, each task's target is the
    milestone ``m(s)`` of its teacher's trajectory at the same fraction of the teacher's training (``milestone``
    rule), and ``L_task = sum_{j <= m} gamma^(m - j) * mean |A_S - A_T^j|`` at milestone ``j``'s essential points.

    Sources per task (logged; :attr:`used_sources`):

    - ``'recorded'``: the file that :class:`~jdbench.engine.hooks.TrajectoryRecorderHook` wrote in the teacher's
      own training (``files[task]``). A missing file falls back to ``fallback`` with a warning (None: an error).
    - ``'final'``: one milestone, attention transfer at the final (frozen) teacher's essential points, computed
      once on the probe set.
    - ``'student'``: the student's own past milestones, recorded at ``num_milestones`` evenly spaced points of its
      training (kept in checkpoints); no loss before the first one.

    Args:
        source (str): ``'recorded'`` (default), ``'final'`` or ``'student'``.
        fallback (str | None): source when a recorded file is missing. Defaults to 'final'.
        files (dict[str, str], optional): task -> trajectory file of its teacher.
        tasks (list[str], optional): the tasks to distil. Defaults to the teachers' tasks.
        gamma (float): decay of the earlier milestones' weights. Defaults to 0.5.
        loss_weight (float): lambda_traj. Defaults to 1.0.
        milestone (str): ``'nearest'`` (default), ``'next'`` or ``'previous'`` (:func:`select_milestone`).
        normalize (bool): divide by the sum of the milestone weights. Defaults to False.
        p, topk, stride, num_milestones: attention exponent, essential points per image, input pixels per cell
            and K, for the 'final' and 'student' sources (a recorded file brings its own).
        student_feature (str, optional): module path in the student, ``{task}`` replaced. Defaults to the input
            of the task's prediction layer (:func:`~jdbench.models.teachers.prediction_layer`).
        teacher_feature (str, optional): module path in a teacher's model for 'final'. Defaults likewise.
        feature_io (str): record the module's ``'input'`` (default) or ``'output'``.
        student_mode (str): ``'train'`` (default: training behaviour, BN running statistics untouched) or
            ``'eval'``.
    """

    def __init__(self,
                 source: str = 'recorded',
                 fallback: Optional[str] = 'final',
                 files: Optional[Dict[str, str]] = None,
                 tasks: Optional[List[str]] = None,
                 gamma: float = 0.5,
                 loss_weight: float = 1.0,
                 milestone: str = 'nearest',
                 normalize: bool = False,
                 p: float = 2.0,
                 topk: int = 64,
                 stride: int = 4,
                 num_milestones: int = 8,
                 student_feature: Optional[str] = None,
                 teacher_feature: Optional[str] = None,
                 feature_io: str = 'input',
                 student_mode: str = 'train',
                 **moved) -> None:
        super().__init__()
        if moved:
            old = sorted(set(moved) & set(MOVED_TO_HOOK))
            raise TypeError(f'TrajectoryDistillLoss got unexpected argument(s) {sorted(moved)}'
                            + (f': {old} now belong to TrajectoryHook (how often the probe runs, which images) — '
                               'a config written before the redesign; start from configs/jd_*.py' if old else ''))
        if source not in SOURCES:
            raise ValueError(f'source must be one of {SOURCES}, got {source!r}')
        if fallback not in (None, 'final', 'student'):
            raise ValueError(f"fallback must be 'final', 'student' or None, got {fallback!r}")
        if milestone not in MILESTONE_RULES:
            raise ValueError(f'milestone must be one of {MILESTONE_RULES}, got {milestone!r}')
        if student_mode not in STUDENT_MODES:
            raise ValueError(f'student_mode must be one of {STUDENT_MODES}, got {student_mode!r}')
        if topk < 1 or num_milestones < 1 or not 0 <= gamma <= 1:
            raise ValueError('TrajectoryDistillLoss needs topk >= 1, num_milestones >= 1 and 0 <= gamma <= 1; '
                             f'got {topk}, {num_milestones}, {gamma}')
        self.source, self.fallback, self.files = source, fallback, dict(files or {})
        self.tasks = list(tasks) if tasks else None
        self.gamma, self.loss_weight = float(gamma), float(loss_weight)
        self.milestone, self.normalize = milestone, bool(normalize)
        self.p, self.topk, self.stride = float(p), int(topk), int(stride)
        self.num_milestones = int(num_milestones)
        self.student_feature, self.teacher_feature = student_feature, teacher_feature
        self.feature_io, self.student_mode = feature_io, student_mode
        #: task -> 'recorded' | 'final' | 'student', set by :meth:`prepare`
        self.used_sources: Dict[str, str] = {}
        #: task -> module path of the student feature / of the teacher feature ('final'), set by :meth:`prepare`
        self.student_paths: Dict[str, str] = {}
        self.teacher_paths: Dict[str, str] = {}
        # task -> dict(positions (K, M, k, 2), values (K, M, k), milestones [K], size (h, w), p, path, ...)
        self._targets: Dict[str, Dict[str, Any]] = {}
        # source 'student': task -> dict(milestones [..], positions [(M, k, 2)], values [(M, k)], size)
        self._student_traj: Dict[str, Dict[str, Any]] = {}
        self._checked_hash: Optional[str] = None
        self._warned_size = False

    # ----------------------------------------------------------------- set-up (once, when the distiller is built)
    def prepare(self, student: nn.Module, teachers: Dict[str, nn.Module]) -> None:
        """Choose each task's source, load the recorded trajectories and check the feature paths."""
        tasks = self.tasks or [t for t in getattr(student, 'task_names', []) if t in teachers]
        if not tasks and self.source == 'student':
            tasks = list(getattr(student, 'task_names', []))
        if not tasks:
            raise ValueError('TrajectoryDistillLoss: no task to distil (no teacher matches a student head); '
                             'set tasks=')
        self.tasks = tasks
        for task in tasks:
            path = self.student_feature.format(task=task) if self.student_feature else prediction_layer(student, task)
            resolve_module(student, path, f'the student (task {task!r})')
            self.student_paths[task] = path
        for task in tasks:
            self.used_sources[task] = self._choose_source(task)
            if self.used_sources[task] == 'final':
                if task not in teachers:
                    raise KeyError(f'TrajectoryDistillLoss: no teacher for task {task!r} (teachers: '
                                   f'{list(teachers)})')
                model = getattr(teachers[task], 'model', teachers[task])
                path = (self.teacher_feature.format(task=task) if self.teacher_feature else
                        prediction_layer(model, getattr(teachers[task], 'task', task)))
                resolve_module(model, path, f'teacher {task!r}')
                self.teacher_paths[task] = path

    def _choose_source(self, task: str) -> str:
        if self.source != 'recorded':
            print_log(f'TrajectoryDistillLoss: task {task!r} uses source={self.source!r} '
                      f'({_SOURCE_TEXT[self.source]})', logger='current')
            return self.source
        path = self.files.get(task)
        if path is not None and osp.isfile(path):
            self._load_recorded(task, path)
            return 'recorded'
        where = path if path is not None else f'(no file: set trajectory.files.{task})'
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

    # ----------------------------------------------------------------- the probe set and 'final' targets
    def check_probe(self, probe: Probe) -> None:
        """The probe set must be the one every recorded file was recorded on (checked once per probe set)."""
        if probe.hash is None or probe.hash == self._checked_hash:
            return
        for task, src in self.used_sources.items():
            tgt = self._targets.get(task)
            if src != 'recorded' or tgt is None or tgt['probe_hash'] == probe.hash:
                continue
            raise ValueError(
                f"TrajectoryDistillLoss: trajectory {tgt['path']} (task {task!r}) was recorded on probe "
                f"set {tgt['probe_hash']} (first images {tgt['probe_paths'][:3]}), but this run's probe "
                f'set is {probe.hash} (first images {(probe.keys or [])[:3]}). Use the same training split and '
                "probe_dataloader as the teacher's TrajectoryRecorderHook, or set source='final'.")
        self._checked_hash = probe.hash

    def final_tasks(self) -> List[str]:
        """Tasks with source 'final' whose targets are not computed yet."""
        return [t for t, src in self.used_sources.items() if src == 'final' and t not in self._targets]

    def set_final_targets(self, task: str, maps: Tensor, size: Sequence[int]) -> None:
        """One milestone for ``task``: the frozen teacher's (M, h·w) maps on the probe set, grid ``size``."""
        positions, values = essential_points(maps, self.topk, size[1])
        self._targets[task] = dict(positions=positions[None].cpu(), values=values[None].cpu(),
                                   milestones=[1.0], size=tuple(size), p=self.p, path=None)
        print_log(f'TrajectoryDistillLoss: task {task!r}: final-teacher targets computed at '
                  f'{self.teacher_paths.get(task)!r} ({maps.shape[0]} probe images, grid {size[0]}x{size[1]}, '
                  f'k={self.topk})', logger='current')

    def grid(self, task: str, input_size: Sequence[int]) -> Tuple[float, Tuple[int, int]]:
        """(p, (h, w)) of ``task``'s student maps: its targets' exponent and grid (else the config's)."""
        tgt = self._targets.get(task)
        if tgt is not None:
            return tgt['p'], tgt['size']
        traj = self._student_traj.get(task)
        if traj is not None and traj.get('size') is not None:
            return self.p, tuple(traj['size'])
        return self.p, grid_size(input_size, self.stride)

    # ----------------------------------------------------------------- forward
    def forward(self, maps: Dict[str, Tensor], progress: float, input_size: Sequence[int]) -> Dict[str, Tensor]:
        """Student maps ``{task: (M, h·w)}`` on the probe set (network input ``input_size``) at training
        progress ``s`` in [0, 1] -> ``{'traj.loss_traj': loss}`` (``{}`` before a 'student' source's first
        milestone)."""
        s = min(1.0, max(0.0, float(progress)))
        self._check_input_size(input_size)
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
        self._record_student_milestones(maps, s, input_size)
        return {} if total is None else {'traj.loss_traj': self.loss_weight * total}

    def _check_input_size(self, input_size: Sequence[int]) -> None:
        if self._warned_size:
            return
        for task, tgt in self._targets.items():
            rec = tgt.get('input_size')
            if rec is not None and tuple(int(v) for v in rec) != tuple(input_size):
                self._warned_size = True
                print_log(f'TrajectoryDistillLoss: the probe images enter the student at {tuple(input_size)}, '
                          f"but task {task!r}'s trajectory was recorded at {tuple(rec)} (other test pipelines); "
                          'the maps are resized to the recorded grid', logger='current', level=logging.WARNING)

    def _record_student_milestones(self, maps: Dict[str, Tensor], s: float, input_size: Sequence[int]) -> None:
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
            _, size = self.grid(task, input_size)
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
        return (f'source={self.source!r}, fallback={self.fallback!r}, '
                f'gamma={self.gamma}, loss_weight={self.loss_weight}, used_sources={self.used_sources}')
