"""Feedback-based adaptive teacher weights ω (JointDistill, docs/methods.md): score the student, update ω."""
import copy
import json
import math
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from jdbench.evaluation.functional import DEPTH_METRICS, METRIC_DIRECTIONS, SEG_METRICS
from jdbench.registry import HOOKS

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


def _fmt(values: Dict[str, float]) -> str:
    return '{' + ', '.join(f'{k}: {v:.4g}' for k, v in values.items()) + '}'


@HOOKS.register_module()
class FeedbackHook(Hook):
    """Every ``interval`` iterations, score the student on the feedback split and update ``model.weighting``.

    The split is the config's ``feedback_dataloader`` (training images held out of training: the training
    dataset sets ``holdout=dict(part='train')``, the feedback split ``part='holdout'``), built with
    ``runner.build_dataloader`` and scored by an evaluator built from ``evaluator``, as mmrazor's
    ``SingleTeacherDistillValLoop`` scores student and teacher. The teachers are scored once, at
    ``before_train`` (unless ``teacher_scores`` are given or restored from a checkpoint); then every
    ``interval`` iterations the student's scores ``r^S`` and the teachers' ``r^T`` go to
    ``model.weighting.update``, keyed by objective name: each objective is scored on the task its
    ``Objective.score`` names, with the metric ``scores[kind]``.

    One switch turns feedback on or off: the weighting. A strategy without ``update`` (e.g. ``Fixed``) leaves the
    hook idle. ω is logged (``train/feedback.w.<task>``, scores as ``train/feedback.score.<task>``) and appended
    to ``{work_dir}/{history_file}``.

    Args:
        dataloader (dict): the feedback split's dataloader config (``feedback_dataloader`` of the dataset base
            configs). Its images must share one size after the test pipeline when ``batch_size > 1``.
        evaluator (dict): the evaluator config. Defaults to ``dict(type='JointMetric')``.
        interval (int, optional): iterations between updates. Defaults to ``max_iters // num_updates``.
        num_updates (int): updates per run when ``interval`` is None. Defaults to 10.
        scores (dict): task kind -> score name: ``'mIoU'`` (default) or ``'pixel_acc'`` for segmentation; ``'d1'``
            (δ<1.25, default), ``'d2'``, ``'d3'``, ``'1/abs_rel'``, ``'1/abs_err'``, ... for depth.
        teacher_scores (dict, optional): task -> known teacher score (skips the teachers' evaluation).
        history_file (str): ω history in the work dir. Defaults to 'omega_history.json'.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW): an update and a checkpoint at one iteration agree

    def __init__(self,
                 dataloader: dict,
                 evaluator: Optional[dict] = None,
                 interval: Optional[int] = None,
                 num_updates: int = 10,
                 scores: Optional[Dict[str, str]] = None,
                 teacher_scores: Optional[Dict[str, float]] = None,
                 history_file: str = 'omega_history.json') -> None:
        if (interval is not None and interval < 1) or num_updates < 1:
            raise ValueError('FeedbackHook needs interval >= 1 (or None) and num_updates >= 1')
        self.scores = {'seg': 'mIoU', 'depth': 'd1', **(scores or {})}
        for kind, name in self.scores.items():
            check_score(kind, name)
        self.dataloader_cfg = copy.deepcopy(dict(dataloader))
        self.evaluator_cfg = dict(evaluator or dict(type='JointMetric'))
        self.interval_cfg, self.num_updates = interval, int(num_updates)
        self.teacher_scores: Optional[Dict[str, float]] = dict(teacher_scores) if teacher_scores else None
        self.history_file = history_file
        self.history: List[Dict[str, Any]] = []
        self.interval = interval
        self.enabled = False
        self._loader = self._evaluator = None

    # ----------------------------------------------------------------- what is scored
    @staticmethod
    def _model(runner) -> nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _tasks(self, model: nn.Module) -> Dict[str, str]:
        """Objective balanced by the weighting -> the task that scores it."""
        declared = {o.name: o for o in model.objectives()}
        out = {}
        for name in model.weighting.objectives:
            score = declared[name].score if name in declared else None
            if score is None:
                raise ValueError(f'FeedbackHook: objective {name!r} declares no score task; feedback weights need '
                                 'objectives that a task metric scores (balance=\'distill\')')
            out[name] = score
        return out

    def _metric(self, model: nn.Module, task: str) -> str:
        teacher = model.teachers.get(task)
        kind = teacher.kind if teacher is not None else model.student.task_kind(task)
        return self.scores[kind]

    # ----------------------------------------------------------------- scoring
    @torch.no_grad()
    def evaluate(self, runner, predict: Callable, tasks: Dict[str, str]) -> Dict[str, float]:
        """Scores ``{objective: r}`` of ``predict(inputs, data_samples) -> samples`` on the feedback split."""
        model = self._model(runner)
        if self._loader is None:
            self._loader = runner.build_dataloader(self.dataloader_cfg)
            self._evaluator = runner.build_evaluator(self.evaluator_cfg)
            self._evaluator.dataset_meta = getattr(self._loader.dataset, 'metainfo', None)
            self._check_disjoint(runner)
            print_log(f'FeedbackHook: feedback split of {len(self._loader.dataset)} images', logger='current')
        for batch in self._loader:
            sizes = {tuple(x.shape[-2:]) for x in batch['inputs']}
            if len(sizes) > 1:
                raise ValueError(f'FeedbackHook: one batch of the feedback split holds images of sizes '
                                 f'{sorted(sizes)} after the test pipeline; set feedback_dataloader.batch_size=1 '
                                 'or resize them to one size')
            data = model.data_preprocessor(batch, False)
            self._evaluator.process(data_samples=predict(data['inputs'], data['data_samples']), data_batch=batch)
        results = {k.split('/')[-1]: v for k, v in self._evaluator.evaluate(len(self._loader.dataset)).items()}
        out = {}
        for name, task in tasks.items():
            metric = self._metric(model, task)
            base = metric[2:] if metric.startswith('1/') else metric
            if base not in results:
                raise KeyError(f'FeedbackHook: no {base!r} for task {task!r} in the metric results '
                               f'{sorted(results)}; does the feedback split carry its ground truth?')
            out[name] = score_from_metrics(results, metric)
        return out

    def _check_disjoint(self, runner) -> None:
        """No feedback image may be a training image."""
        def paths(dataset) -> set:
            return {dataset.get_data_info(i)['img_path'] for i in range(len(dataset))}

        both = paths(self._loader.dataset) & paths(runner.train_dataloader.dataset)
        if both:
            raise ValueError(
                f'FeedbackHook: {len(both)} feedback images are also training images (e.g. {sorted(both)[:2]}). '
                "Give train_dataloader.dataset holdout=dict(part='train') and the feedback split "
                "holdout=dict(part='holdout').")

    def student_scores(self, runner) -> Dict[str, float]:
        """``r^S`` keyed by objective (eval mode, then back to the student's mode)."""
        model = self._model(runner)
        student, was = model.student, model.student.training
        student.eval()
        try:
            return self.evaluate(runner, lambda x, s: student(inputs=x, data_samples=s, mode='predict'),
                                 self._tasks(model))
        finally:
            student.train(was)

    def teacher_scores_of(self, runner) -> Dict[str, float]:
        """``r^T``: every teacher on its own task, keyed by the objective it scores."""
        model = self._model(runner)
        out = {}
        for name, task in self._tasks(model).items():
            out.update(self.evaluate(runner, model.teachers[task].predict, {name: task}))
        return out

    # ----------------------------------------------------------------- hook points
    def before_train(self, runner) -> None:
        model = self._model(runner)
        weighting = getattr(model, 'weighting', None)
        self.enabled = callable(getattr(weighting, 'update', None))
        if not self.enabled:
            print_log(f'FeedbackHook: the weighting ({type(weighting).__name__}) takes no feedback; the hook is '
                      'idle', logger='current')
            return
        if not weighting.objectives:
            raise ValueError('FeedbackHook: model.weighting has no objectives; build it from the model\'s '
                             'objectives()')
        self.interval = self.interval_cfg or max(1, int(runner.max_iters) // self.num_updates)
        if self.teacher_scores is None:
            self.teacher_scores = self.teacher_scores_of(runner)
            how = 'evaluated'
        else:
            how = 'given or restored, not re-evaluated'
        bad = {t: v for t, v in self.teacher_scores.items() if not v > 0 or not math.isfinite(v)}
        if bad:
            raise ValueError(f'FeedbackHook: teacher scores must be finite and > 0 (a_i = r^S / r^T), got {bad}')
        omega = self.omega(model)
        if not self.history:
            self.history.append(dict(iter=int(runner.iter), omega=omega, student=None,
                                     teacher=self._by_task(model, self.teacher_scores)))
        else:
            self.history = [h for h in self.history if h['iter'] <= runner.iter]
        self._write_history(runner)
        print_log(f'FeedbackHook: every {self.interval} iterations; teacher scores '
                  f'{_fmt(self.teacher_scores)} ({how}); ω = {_fmt(omega)} at iteration {runner.iter}',
                  logger='current')

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        if self.enabled and self.every_n_train_iters(runner, self.interval):
            self.update(runner)

    def update(self, runner) -> Dict[str, float]:
        """One feedback step: score the student, update ω (identical on every rank: the evaluator broadcasts
        its metrics), log it."""
        model = self._model(runner)
        student = self.student_scores(runner)
        model.weighting.update(dict(student), dict(self.teacher_scores))
        omega = self.omega(model)
        student, teacher = self._by_task(model, student), self._by_task(model, self.teacher_scores)
        ratio = {t: v / teacher[t] for t, v in student.items() if t in teacher}
        it = int(runner.iter) + 1
        self.history.append(dict(iter=it, omega=omega, student=student, teacher=teacher, ratio=ratio))
        for task, value in omega.items():
            runner.message_hub.update_scalar(f'train/feedback.w.{task}', value)
        for task, value in student.items():
            runner.message_hub.update_scalar(f'train/feedback.score.{task}', value)
        self._write_history(runner)
        print_log(f'FeedbackHook: iteration {it}: student {_fmt(student)}, r^S/r^T {_fmt(ratio)} -> ω = '
                  f'{_fmt(omega)}', logger='current')
        return omega

    def _by_task(self, model: nn.Module, values: Dict[str, float]) -> Dict[str, float]:
        """Objective-keyed values re-keyed by the task that scores them (as the history file shows them)."""
        tasks = self._tasks(model)
        return {tasks.get(name, name): float(v) for name, v in values.items()}

    def omega(self, model: nn.Module) -> Dict[str, float]:
        """Current ω as ``{task: value}``."""
        weighting = model.weighting
        return self._by_task(model, dict(zip(weighting.objectives, weighting.omega.double().cpu().tolist())))

    # ----------------------------------------------------------------- checkpoints and history
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.enabled:
            checkpoint['feedback_hook'] = dict(teacher_scores=dict(self.teacher_scores or {}),
                                               history=copy.deepcopy(self.history))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('feedback_hook')
        if not state:
            return
        if state.get('teacher_scores'):
            model = self._model(runner)
            by_task = {task: name for name, task in self._tasks(model).items()}
            # checkpoints written before the redesign key the teacher scores by task ('seg'), not objective
            self.teacher_scores = {by_task.get(k, k): float(v) for k, v in state['teacher_scores'].items()}
        self.history = list(state.get('history', []))

    def _write_history(self, runner) -> None:
        if not is_main_process() or not self.history_file:
            return
        os.makedirs(runner.work_dir, exist_ok=True)
        path = osp.join(runner.work_dir, self.history_file)
        with open(f'{path}.tmp', 'w') as f:
            json.dump(dict(interval=self.interval, scores=self.scores, history=self.history), f, indent=1)
        os.replace(f'{path}.tmp', path)
