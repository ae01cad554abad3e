"""A frozen teacher: a suite model (or an mmseg segmentor) built from its config and checkpoint."""
import copy
import os.path as osp
from typing import Dict, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmseg.utils import SampleList
from torch import Tensor

from jdbench.registry import MODELS
from jdbench.utils import check_state_dict_matches, load_state_dict_checked
from .recorder import prediction_layer

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


class TeacherOutput(NamedTuple):
    """What one teacher forward gives: its raw task output and the recorded features.

    ``out``: segmentation logits (B, C, h, w) or depth (B, 1, h, w) at the head's resolution.
    ``feats``: feature name -> recorded tensor (B, C_f, h_f, w_f).
    """
    out: Tensor
    feats: Dict[str, Tensor]


def _resolve_config(path: str) -> str:
    """A config path as given, or relative to the repository root when run from elsewhere."""
    if osp.isfile(path) or osp.isabs(path):
        return path
    in_repo = osp.join(REPO_ROOT, path)
    return in_repo if osp.isfile(in_repo) else path


def _norm_stats(preprocessor: Optional[nn.Module]) -> Tuple[Tensor, Tensor, bool]:
    """(mean (3,), std (3,), channel flip) of a data pre-processor; identity when it does not normalise."""
    if preprocessor is not None and getattr(preprocessor, '_enable_normalize', False):
        mean, std = preprocessor.mean.flatten().float().cpu(), preprocessor.std.flatten().float().cpu()
    else:
        mean, std = torch.zeros(3), torch.ones(3)
    return mean, std, bool(getattr(preprocessor, 'channel_conversion', False))


@MODELS.register_module()
class Teacher(nn.Module):
    """A frozen single-task teacher.

    Builds the model of a suite config (a :class:`JointStudent` with one head, or any mmseg ``EncoderDecoder``
    / ``DepthEstimator``), loads its checkpoint and freezes it: no parameter requires grad, every forward runs
    under ``torch.no_grad()`` and the module stays in eval mode whatever ``train()`` is called with (BN
    statistics never change). One forward gives the task output and every recorded feature.

    Distillers keep teachers out of their registered sub-modules (so that they are not in the optimizer, not
    wrapped by DDP, not in the distiller's checkpoints) and move them to the distiller's device themselves.

    Args:
        config (str | dict): a config file (e.g. ``'configs/teachers/seg_synthdrive.py'``) or a model config
            dict.
        checkpoint (str | None): the teacher's weights (``state_dict`` of the model, e.g. its ``final.pth``).
            ``None`` keeps random weights (for cost analysis and tests only; logged as a warning).
        task (str, optional): which head of a :class:`JointStudent` teacher is the task output; needed only
            when the teacher has several heads.
        features (dict, optional): feature name -> recorder config, e.g.
            ``dict(shared=dict(type='ModuleOutputsRecorder', source='neck', index=0))``. A recorder without
            ``source`` records the teacher's prediction layer (:func:`prediction_layer`):
            ``dict(last=dict(type='ModuleInputsRecorder'))`` is the input of ``heads.<task>.conv_seg``.
        cfg_options (dict, optional): overrides merged into the loaded config, with full keys as on the
            command line (``{'model.backbone.base_channels': 8}``).
    """

    def __init__(self,
                 config: Union[str, dict],
                 checkpoint: Optional[str],
                 task: Optional[str] = None,
                 features: Optional[Dict[str, dict]] = None,
                 cfg_options: Optional[dict] = None) -> None:
        super().__init__()
        if isinstance(config, str):
            self.config_path: Optional[str] = config
            cfg = Config.fromfile(_resolve_config(config))
        else:
            self.config_path = None
            config = copy.deepcopy(dict(config))
            cfg = Config(config if 'model' in config and 'type' not in config else dict(model=config))
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        if cfg.model.get('weighting') is not None:
            # a frozen teacher needs no loss weighting; its checkpoint's weighting state is ignored
            cfg.model.weighting = None
        self.checkpoint = checkpoint
        self.model = MODELS.build(cfg.model)
        self.task, self.kind, self.num_classes, self.output_layer = self._task_info(task)
        if checkpoint is None:
            print_log(f'teacher {self.task!r} has no checkpoint: random weights (for tests and cost analysis '
                      'only)', logger='current', level=30)
        else:
            self._load(checkpoint)
        self.model.eval()
        self.model.requires_grad_(False)
        self.recorders = {name: MODELS.build(dict(dict(source=self.output_layer), **rcfg))
                          for name, rcfg in (features or {}).items()}
        for name, rec in self.recorders.items():
            try:
                rec.attach(self.model)
            except KeyError as err:
                raise KeyError(f'teacher {self.task!r}, feature {name!r}: {err.args[0]}') from None
        self.register_buffer('in_scale', torch.ones(1, 3, 1, 1), persistent=False)
        self.register_buffer('in_shift', torch.zeros(1, 3, 1, 1), persistent=False)
        self.in_perm: Optional[list] = None
        self.train()  # = eval mode, for good

    # ----------------------------------------------------------------- build-time checks
    def _train_hint(self) -> str:
        if self.config_path is None:
            return 'train the teacher with tools/train.py and its config'
        work_dir = osp.dirname(self.checkpoint) if self.checkpoint else 'work_dirs/<name>'
        return f'train it first: python tools/train.py {self.config_path} --work-dir {work_dir}'

    def _load(self, path: str) -> None:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'teacher {self.task!r}: checkpoint {path!r} does not exist; {self._train_hint()} '
                '(ExportStudentHook writes final.pth into the work dir), or point the teacher checkpoint '
                '(model.teachers.<name>.checkpoint) at an existing file.')
        state_dict = load_state_dict_checked(path)
        try:
            check_state_dict_matches(self.model, state_dict, f'teacher {self.task!r} checkpoint {path!r}')
        except ValueError as err:
            raise ValueError(f'{err}\n  Expected a checkpoint of {self.config_path or "the teacher config"}; '
                             f'{self._train_hint()}') from None
        self.model.load_state_dict(state_dict, strict=False)

    def _task_info(self, task: Optional[str]) -> Tuple[str, str, Optional[int], str]:
        """(task name, 'seg'|'depth', class count or None, path of the last prediction layer)."""
        model = self.model
        if not hasattr(model, 'heads') and not hasattr(model, 'decode_head'):
            raise TypeError(f'{type(model).__name__} is not a supported teacher: use a JointStudent '
                            'config or an mmseg EncoderDecoder/DepthEstimator config')
        try:
            path = prediction_layer(model, task if hasattr(model, 'heads') else None)
        except ValueError as err:
            raise ValueError(f'teacher: {err}; set the teacher\'s task= to the head it teaches') from None
        if hasattr(model, 'heads'):
            task = path.split('.')[1]
            kind, head = model.task_kind(task), model.heads[task]
        else:
            kind = 'depth' if type(model).__name__ == 'DepthEstimator' else 'seg'
            task, head = task or kind, model.decode_head
        return task, kind, (head.num_classes if kind == 'seg' else None), path

    # ----------------------------------------------------------------- frozen behaviour
    def train(self, mode: bool = True) -> 'Teacher':
        """Teachers stay in eval mode: ``train(True)`` is ignored."""
        return super().train(False)

    def match_input_normalization(self, preprocessor: Optional[nn.Module]) -> None:
        """Map inputs normalised by ``preprocessor`` (the distiller's) to this teacher's own normalisation."""
        s_mean, s_std, s_flip = _norm_stats(preprocessor)
        t_mean, t_std, t_flip = _norm_stats(getattr(self.model, 'data_preprocessor', None))
        perm = [2, 1, 0] if s_flip != t_flip else [0, 1, 2]
        scale, shift = s_std[perm] / t_std, (s_mean[perm] - t_mean) / t_std
        same = (perm == [0, 1, 2] and torch.allclose(scale, torch.ones(3))
                and torch.allclose(shift, torch.zeros(3)))
        self.in_perm = None if same else perm
        self.in_scale.copy_(scale.view(1, 3, 1, 1))
        self.in_shift.copy_(shift.view(1, 3, 1, 1))

    def adapt_inputs(self, inputs: Tensor) -> Tensor:
        """Distiller-normalised images (B, 3, H, W) -> the teacher's normalisation."""
        if self.in_perm is None:
            return inputs
        return inputs[:, self.in_perm] * self.in_scale.to(inputs) + self.in_shift.to(inputs)

    # ----------------------------------------------------------------- forward
    def _task_output(self, inputs: Tensor) -> Tensor:
        model = self.model
        if hasattr(model, 'heads'):
            return model.heads[self.task](list(model.extract_feat(inputs)))
        return model._forward(inputs)

    @torch.no_grad()
    def forward(self, inputs: Tensor) -> TeacherOutput:
        """Normalised images (B, 3, H, W) -> :class:`TeacherOutput` (task output + recorded features)."""
        out = self._task_output(self.adapt_inputs(inputs))
        return TeacherOutput(out, {name: rec.pop() for name, rec in self.recorders.items()})

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Fill the teacher's prediction (``pred_sem_seg``/``seg_logits`` or ``pred_depth_map``) in."""
        model, x = self.model, self.adapt_inputs(inputs)
        if hasattr(model, 'heads'):
            metas = [s.metainfo for s in data_samples]
            out = model.heads[self.task].predict_by_feat(self._task_output(x), metas)
            data_samples = model.postprocess({self.task: out}, data_samples)
        else:
            data_samples = model.predict(x, data_samples)
        for rec in self.recorders.values():
            rec.data = None
        return data_samples

    @torch.no_grad()
    def probe(self, size: Tuple[int, int] = (64, 64)) -> Dict[str, Tuple[int, ...]]:
        """Shapes (C, h, w) of the output (``'out'``) and of every feature, for a zero image of ``size``."""
        x = self.in_scale.new_zeros(1, 3, *size)
        res = self.forward(x)
        return {'out': tuple(res.out.shape[1:]), **{k: tuple(v.shape[1:]) for k, v in res.feats.items()}}

    def extra_repr(self) -> str:
        return (f'task={self.task!r}, kind={self.kind!r}, num_classes={self.num_classes}, '
                f'config={self.config_path!r}, checkpoint={self.checkpoint!r}, '
                f'features={list(self.recorders)}')
