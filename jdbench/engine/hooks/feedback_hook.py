"""Feedback-based adaptive teacher weights ω (JointDistill, spec §3): score the student, update ω."""
import copy
import json
import logging
import math
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.dist import broadcast, broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch.utils.data import DataLoader

from jdbench.evaluation.functional import DEPTH_METRICS, METRIC_DIRECTIONS, SEG_METRICS
from jdbench.registry import DATASETS, HOOKS, METRICS

SPLITS = ('holdout', 'val')
KIND_METRICS = {'seg': SEG_METRICS, 'depth': DEPTH_METRICS}


def check_score(kind: str, name: str) -> None:
    """``name`` must be a higher-is-better metric of ``kind`` or ``'1/<lower-is-better metric>'``."""
    inverse = name.startswith('1/')
    key = name[2:] if inverse else name
    if kind not in KIND_METRICS or key not in KIND_METRICS[kind]:
        raise ValueError(f'FeedbackHook: score {name!r} is not a {kind} metric of JointMetric '
                         f'({KIND_METRICS.get(kind)})')
    if METRIC_DIRECTIONS[key] != (-1 if inverse else 1):
        raise ValueError(f'FeedbackHook: score {name!r} must grow with quality: use a higher-is-better '
                         "metric or '1/' + a lower-is-better one (e.g. '1/abs_rel')")


def score_from_metrics(metrics: Dict[str, float], name: str) -> float:
    """The score ``name`` (``'mIoU'``, ``'d1'``, ``'1/abs_rel'``, ...) from JointMetric's results."""
    if name.startswith('1/'):
        value = float(metrics[name[2:]])
        return 1.0 / value if value > 0 else math.inf
    return float(metrics[name])


@HOOKS.register_module()
class FeedbackHook(Hook):
    """Score the student on the feedback split every ``interval`` iterations and update ``model.weighting``.

    At ``before_train`` the teachers are scored once on the feedback split (``r_i^T``; skipped when the
    scores are known: given as ``teacher_scores`` or restored from a checkpoint). Every ``interval``
    iterations the student is scored (``r_i^S``) and ``model.weighting.update(student_scores,
    teacher_scores)`` updates ω: the :class:`~jdbench.weighting.Feedback` strategy's buffer, saved in
    checkpoints. The hook never re-initialises it, so a resumed run continues with the loaded ω. ω is logged
    at every update (``train/feedback.w.<task>``, scores as ``train/feedback.score.<task>``) and appended to
    ``{work_dir}/{history_file}``.

    Scores, ``scores[kind]`` from :class:`~jdbench.evaluation.JointMetric`: ``'mIoU'`` (default) or
    ``'pixel_acc'`` for segmentation; ``'d1'`` (δ<1.25, default), ``'d2'``, ``'d3'``, ``'1/abs_rel'``,
    ``'1/abs_err'``, ... for depth.

    Feedback split, the first that applies:

    1. ``dataloader``: a dataloader config given to the hook;
    2. ``split='val'``: the config's ``val_dataloader`` (warning: model selection then sees validation data);
    3. the config's ``feedback_dataloader``;
    4. derived from ``train_dataloader``: its dataset with ``holdout.part='holdout'``, the pipeline of
       ``val_dataloader`` and ``batch_size`` images per forward. The training dataset must then set
       ``holdout=dict(..., part='train')``.

    For ``split='holdout'`` the hook checks that no feedback image is a training image. Every rank evaluates
    the whole split (no distributed sampler); rank 0's scores and ω buffers are then broadcast, so ω is
    identical on every rank.

    Args:
        interval (int, optional): iterations between updates. Defaults to ``max_iters // num_updates``.
        num_updates (int): updates per run when ``interval`` is None. Defaults to 10.
        split (str): ``'holdout'`` (default) or ``'val'``.
        dataloader (dict, optional): dataloader config of the feedback split (``dataset``, ``batch_size``,
            ``num_workers``, ``collate_fn``).
        scores (dict): task kind -> score name. Defaults to ``dict(seg='mIoU', depth='d1')``.
        metric (dict, optional): extra :class:`JointMetric` arguments (e.g. ``depth_range``).
        teacher_scores (dict, optional): task -> known teacher score (skips the teachers' evaluation).
        history_file (str): ω history in the work dir. Defaults to 'omega_history.json'.
        batch_size (int): images per forward on the derived feedback split (case 4). Batching keeps the
            evaluations cheap; the split's images must share one size after the test pipeline, as mmseg's data
            preprocessor requires at test time (1 lifts that). Defaults to 8.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW): an update and a checkpoint at one iteration agree

    def __init__(self,
                 interval: Optional[int] = None,
                 num_updates: int = 10,
                 split: str = 'holdout',
                 dataloader: Optional[dict] = None,
                 scores: Optional[Dict[str, str]] = None,
                 metric: Optional[dict] = None,
                 teacher_scores: Optional[Dict[str, float]] = None,
                 history_file: str = 'omega_history.json',
                 batch_size: int = 8) -> None:
        if split not in SPLITS:
            raise ValueError(f'FeedbackHook split must be one of {SPLITS}, got {split!r}')
        if (interval is not None and interval < 1) or num_updates < 1 or batch_size < 1:
            raise ValueError('FeedbackHook needs interval >= 1 (or None), num_updates >= 1 and batch_size >= 1')
        self.scores = {'seg': 'mIoU', 'depth': 'd1', **(scores or {})}
        for kind, name in self.scores.items():
            check_score(kind, name)
        self.interval_cfg, self.num_updates = interval, int(num_updates)
        self.split, self.dataloader_cfg = split, copy.deepcopy(dataloader)
        self.metric_cfg = dict(metric or {})
        self.teacher_scores: Optional[Dict[str, float]] = dict(teacher_scores) if teacher_scores else None
        self.history_file, self.batch_size = history_file, int(batch_size)
        self.history: List[Dict[str, Any]] = []
        self.interval = interval
        self._loader: Optional[DataLoader] = None

    # ----------------------------------------------------------------- model parts
    @staticmethod
    def _model(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _parts(self, runner) -> Tuple[nn.Module, nn.Module, dict, nn.Module]:
        model = self._model(runner)
        weighting = getattr(model, 'weighting', None)
        if weighting is None or not callable(getattr(weighting, 'update', None)):
            raise TypeError('FeedbackHook needs model.weighting with update(student_scores, teacher_scores): '
                            "use weighting=dict(type='Feedback') in the distiller config")
        teachers = getattr(model, 'teachers', None) or {}
        student = getattr(model, 'student', None)
        if student is None or not teachers:
            raise TypeError('FeedbackHook needs a distiller with .student and .teachers; got '
                            f'{type(model).__name__}')
        return model, student, teachers, weighting

    @staticmethod
    def _kinds(student: nn.Module, teachers: dict) -> Dict[str, str]:
        """Task -> kind ('seg'/'depth') of every teacher task."""
        out = {}
        for task, teacher in teachers.items():
            kind = getattr(teacher, 'kind', None)
            if kind is None and hasattr(student, 'task_kind'):
                kind = student.task_kind(task)
            out[task] = kind or ('depth' if 'depth' in task else 'seg')
        if len(set(out.values())) != len(out):
            raise ValueError(f'FeedbackHook scores one task per kind; tasks {out} share a kind')
        return out

    @staticmethod
    def omega(weighting: nn.Module) -> Dict[str, float]:
        """Current ω as ``{task: value}`` (objective ``'kd.seg'`` is reported as ``'seg'``)."""
        names = list(getattr(weighting, 'objectives', []) or [])
        if hasattr(weighting, 'omega') and names:
            values = weighting.omega.detach().double().cpu().tolist()
        else:
            last = dict(getattr(weighting, 'last_weights', {}) or {})
            names, values = list(last), [float(v) for v in last.values()]
        key = getattr(weighting, 'score_key', lambda o: o[3:] if o.startswith('kd.') else o)
        return {key(n): float(v) for n, v in zip(names, values)}

    # ----------------------------------------------------------------- feedback split
    def _loader_cfg(self, cfg) -> dict:
        if self.dataloader_cfg is not None:
            return copy.deepcopy(self.dataloader_cfg)
        if self.split == 'val':
            print_log("FeedbackHook: split='val': ω is steered by the validation split, so model selection "
                      'on it sees data the weights were tuned on; report test-split results',
                      logger='current', level=logging.WARNING)
            return copy.deepcopy(dict(cfg.val_dataloader))
        if cfg.get('feedback_dataloader'):
            return copy.deepcopy(dict(cfg.feedback_dataloader))
        dataset = copy.deepcopy(dict(cfg.train_dataloader['dataset']))
        holdout = dataset.get('holdout')
        if not holdout or dict(holdout).get('part', 'train') != 'train':
            raise ValueError(
                'FeedbackHook: the training dataset must exclude the feedback split. Set '
                'train_dataloader.dataset.holdout=dict(fraction=0.05, min_count=32, seed=0, '
                "part='train') (the feedback split is then the same holdout with part='holdout'), or use "
                "FeedbackHook(split='val').")
        dataset['holdout'] = {**dict(holdout), 'part': 'holdout'}
        val = cfg.get('val_dataloader') or {}
        if val.get('dataset', {}).get('pipeline') is not None:
            dataset['pipeline'] = copy.deepcopy(val['dataset']['pipeline'])
        elif cfg.get('test_pipeline') is not None:
            dataset['pipeline'] = copy.deepcopy(cfg.test_pipeline)
        return dict(batch_size=self.batch_size, num_workers=0, dataset=dataset)

    def _build_loader(self, runner) -> DataLoader:
        cfg = self._loader_cfg(runner.cfg)
        dataset = cfg['dataset']
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        collate = (cfg.get('collate_fn') or {}).get('type', 'pseudo_collate')
        collate_fn = {'pseudo_collate': pseudo_collate, 'default_collate': default_collate}.get(collate)
        if collate_fn is None:
            from mmengine.registry import FUNCTIONS
            collate_fn = FUNCTIONS.get(collate)
        # no distributed sampler: every rank evaluates the whole split, in the same order
        loader = DataLoader(dataset, batch_size=int(cfg.get('batch_size', 1)), shuffle=False,
                            num_workers=int(cfg.get('num_workers', 0)), collate_fn=collate_fn)
        if self.split == 'holdout':
            self._check_disjoint(runner, dataset)
        print_log(f'FeedbackHook: feedback split ({self.split}) of {len(dataset)} images', logger='current')
        return loader

    @staticmethod
    def _image_paths(dataset) -> Optional[set]:
        try:
            return {dataset.get_data_info(i)['img_path'] for i in range(len(dataset))}
        except Exception:  # noqa: BLE001  (a dataset without data infos cannot be checked)
            return None

    def _check_disjoint(self, runner, feedback_dataset) -> None:
        train = getattr(getattr(runner, 'train_dataloader', None), 'dataset', None)
        ours = self._image_paths(feedback_dataset)
        theirs = self._image_paths(train) if train is not None else None
        if ours is None or theirs is None:
            print_log('FeedbackHook: could not check that the feedback split is held out of training',
                      logger='current', level=logging.WARNING)
            return
        both = ours & theirs
        if both:
            raise ValueError(
                f'FeedbackHook: {len(both)} of the {len(ours)} feedback images are also training images '
                f"(e.g. {sorted(both)[:2]}). Give train_dataloader.dataset holdout=dict(..., part='train') "
                "and the feedback split the same holdout with part='holdout'.")

    def _get_loader(self, runner) -> DataLoader:
        if self._loader is None:
            self._loader = self._build_loader(runner)
        return self._loader

    # ----------------------------------------------------------------- scoring
    @torch.no_grad()
    def evaluate(self, runner, predict: Callable, kinds: Dict[str, str]) -> Dict[str, float]:
        """Scores ``{task: r}`` of ``predict(inputs, data_samples) -> samples`` on the feedback split."""
        model = self._model(runner)
        loader = self._get_loader(runner)
        metric = METRICS.build(dict(type='JointMetric', **self.metric_cfg))
        metric.dataset_meta = getattr(loader.dataset, 'metainfo', None)
        for batch in loader:
            sizes = {tuple(x.shape[-2:]) for x in batch['inputs']} if isinstance(batch, dict) else set()
            if len(sizes) > 1:
                raise ValueError(f'FeedbackHook: one batch of the feedback split holds images of sizes {sorted(sizes)}'
                                 ' after the test pipeline; set FeedbackHook(batch_size=1) or resize them to one size')
            data = model.data_preprocessor(batch, False)
            metric.process(batch, predict(data['inputs'], data['data_samples']))
        results = metric.compute_metrics(metric.results)
        out = {}
        for task, kind in kinds.items():
            name = self.scores[kind]
            base = name[2:] if name.startswith('1/') else name
            if base not in results:
                raise KeyError(f'FeedbackHook: no {base!r} for task {task!r} in the metric results '
                               f'{sorted(results)}; does the feedback split carry its ground truth?')
            out[task] = score_from_metrics(results, name)
        return out

    def compute_student_scores(self, runner) -> Dict[str, float]:
        """``r^S``: the student's scores on the feedback split (eval mode, then back to its mode)."""
        _, student, teachers, _ = self._parts(runner)
        was = student.training
        student.eval()
        try:
            return self.evaluate(runner, lambda x, s: student(inputs=x, data_samples=s, mode='predict'),
                                 self._kinds(student, teachers))
        finally:
            student.train(was)

    def compute_teacher_scores(self, runner) -> Dict[str, float]:
        """``r^T``: every teacher's score on its own task on the feedback split."""
        _, student, teachers, _ = self._parts(runner)
        kinds = self._kinds(student, teachers)
        out = {}
        for task, teacher in teachers.items():
            if hasattr(teacher, 'predict') and hasattr(teacher, 'model'):
                predict = teacher.predict  # jdbench Teacher: maps the distiller's normalisation to its own
            else:
                def predict(x, s, t=teacher):
                    return t(inputs=x, data_samples=s, mode='predict')
            was = teacher.training
            teacher.eval()
            try:
                out.update(self.evaluate(runner, predict, {task: kinds[task]}))
            finally:
                teacher.train(was)
        return out

    @staticmethod
    def _sync(obj: Any) -> Any:
        """Rank 0's value on every rank."""
        if get_world_size() == 1:
            return obj
        holder = [obj]
        broadcast_object_list(holder, src=0)
        return holder[0]

    # ----------------------------------------------------------------- hook points
    def before_train(self, runner) -> None:
        _, student, teachers, weighting = self._parts(runner)
        if hasattr(weighting, 'objectives') and not weighting.objectives:
            raise ValueError('FeedbackHook: model.weighting has no objectives (it was built without the '
                             'teacher names); build it with build_weighting(cfg, task_names, teacher_names)')
        self._kinds(student, teachers)
        self.interval = self.interval_cfg or max(1, int(runner.max_iters) // self.num_updates)
        if self.teacher_scores is None:
            self.teacher_scores = self._sync(self.compute_teacher_scores(runner))
            how = 'evaluated'
        else:
            how = 'given or restored, not re-evaluated'
        bad = {t: v for t, v in self.teacher_scores.items() if not v > 0 or not math.isfinite(v)}
        if bad:
            raise ValueError('FeedbackHook: teacher scores must be finite and > 0 (a_i = r^S / r^T), got '
                             f'{bad}')
        omega = self.omega(weighting)
        if not self.history:
            self.history.append(dict(iter=int(runner.iter), omega=omega, student=None,
                                     teacher=dict(self.teacher_scores)))
        else:
            self.history = [h for h in self.history if h['iter'] <= runner.iter]
        self._write_history(runner)
        print_log(f'FeedbackHook: every {self.interval} iterations on the {self.split} split; teacher scores '
                  f'{self._fmt(self.teacher_scores)} ({how}); ω = {self._fmt(omega)} at iteration '
                  f'{runner.iter}', logger='current')

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        if self.every_n_train_iters(runner, self.interval):
            self.update(runner)

    def update(self, runner) -> Dict[str, float]:
        """One feedback step: score the student, update ω, make ω identical on every rank, log it."""
        _, _, _, weighting = self._parts(runner)
        student_scores = self._sync(self.compute_student_scores(runner))
        weighting.update(dict(student_scores), dict(self.teacher_scores))
        for buf in weighting.buffers():  # rank 0's ω (and counters) everywhere
            broadcast(buf, src=0)
        omega = self.omega(weighting)
        it = int(runner.iter) + 1
        teacher = self.teacher_scores
        ratio = {t: v / teacher[t] for t, v in student_scores.items() if t in teacher}
        self.history.append(dict(iter=it, omega=omega, student=dict(student_scores), teacher=dict(teacher),
                                 ratio=ratio))
        for task, value in omega.items():
            runner.message_hub.update_scalar(f'train/feedback.w.{task}', value)
        for task, value in student_scores.items():
            runner.message_hub.update_scalar(f'train/feedback.score.{task}', value)
        self._write_history(runner)
        print_log(f'FeedbackHook: iteration {it}: student {self._fmt(student_scores)}, r^S/r^T '
                  f'{self._fmt(ratio)} -> ω = {self._fmt(omega)}', logger='current')
        return omega

    # ----------------------------------------------------------------- checkpoints and history
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['feedback_hook'] = dict(teacher_scores=dict(self.teacher_scores or {}),
                                           history=copy.deepcopy(self.history))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('feedback_hook')
        if not state:
            return
        if state.get('teacher_scores'):
            self.teacher_scores = {k: float(v) for k, v in state['teacher_scores'].items()}
        self.history = list(state.get('history', []))

    def _write_history(self, runner) -> None:
        if not is_main_process() or not self.history_file:
            return
        os.makedirs(runner.work_dir, exist_ok=True)
        path = osp.join(runner.work_dir, self.history_file)
        with open(f'{path}.tmp', 'w') as f:
            json.dump(dict(interval=self.interval, split=self.split, scores=self.scores,
                           history=self.history), f, indent=1)
        os.replace(f'{path}.tmp', path)

    @staticmethod
    def _fmt(values: Dict[str, float]) -> str:
        return '{' + ', '.join(f'{k}: {v:.4g}' for k, v in values.items()) + '}'
