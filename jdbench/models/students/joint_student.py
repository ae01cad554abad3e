"""The joint multi-task student (and, with one head, the single-task model)."""
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor

from jdbench.registry import MODELS
from ..heads import DepthHead
from ..objectives import Objective, task_objectives


@MODELS.register_module()
class JointStudent(BaseSegmentor):
    """A shared backbone (+ optional neck) with one head per task.

    Args:
        backbone (dict): any mmseg backbone, or an ``mmdet.``-scoped one.
        heads (dict): task name -> head config. A :class:`DepthHead` makes a depth task; any mmseg decode head
            a segmentation task. ``dict(seg=..., depth=...)`` is the joint student, one entry a single-task model;
            a ``None`` entry drops a head inherited from a base config.
        neck (dict, optional): e.g. ``dict(type='mmdet.FPN', ...)``.
        weighting (dict, optional): a strategy from ``jdbench.registry.WEIGHTINGS`` that balances the task losses
            (:meth:`objectives`) in :meth:`train_step`, with ``optim_wrapper=dict(type='WeightedOptimWrapper')``.
            ``None`` sums them (mmengine's ``parse_losses``).

    ``mode='loss'`` returns ``{'<task>.<term>': value}``, ``mode='predict'`` fills ``pred_sem_seg``/``seg_logits``
    and ``pred_depth_map`` at the original image size, ``mode='tensor'`` returns ``{task: raw output}``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 heads: Dict[str, ConfigType],
                 neck: OptConfigType = None,
                 weighting: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        heads = {name: cfg for name, cfg in heads.items() if cfg is not None}
        if not heads:
            raise ValueError('JointStudent needs at least one head, e.g. heads=dict(seg=..., depth=...)')
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.heads = nn.ModuleDict({name: MODELS.build(cfg) for name, cfg in heads.items()})
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        self.shared_rep: Optional[Tuple[Tensor, ...]] = None
        self.weighting = None
        if weighting is not None:
            from jdbench.weighting import build_weighting
            self.weighting = build_weighting(weighting, objectives=self.objectives())

    # ----------------------------------------------------------------- structure
    @property
    def task_names(self) -> List[str]:
        return list(self.heads.keys())

    def task_kind(self, task: str) -> str:
        """'depth' for a :class:`DepthHead`, else 'seg'."""
        return 'depth' if isinstance(self.heads[task], DepthHead) else 'seg'

    @property
    def num_classes(self) -> Dict[str, int]:
        """Class count of each segmentation head."""
        return {t: h.num_classes for t, h in self.heads.items() if self.task_kind(t) == 'seg'}

    def objectives(self) -> List[Objective]:
        """One ``'task'`` objective per head, in head order: keys ``'<task>.*'``, scored by the task."""
        return task_objectives(self.task_names)

    def shared_modules(self) -> List[nn.Module]:
        """The modules every task shares (backbone and neck): what gradient strategies manipulate."""
        return [m for m in (self.backbone, self.neck) if m is not None]

    # ----------------------------------------------------------------- forward parts
    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Images (B, 3, H, W) -> shared multi-level features."""
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        return tuple(x)

    def forward_heads(self, feats: Tuple[Tensor, ...]) -> Dict[str, Tensor]:
        """Shared features -> ``{task: raw output}`` (seg logits B×C×h×w, depth B×1×h×w)."""
        return {task: head(list(feats)) for task, head in self.heads.items()}

    def task_losses(self, outputs: Dict[str, Tensor], data_samples: SampleList) -> Dict[str, Tensor]:
        """Ground-truth losses of each head, keyed ``'<task>.<term>'``."""
        losses = {}
        for task, head in self.heads.items():
            losses.update(add_prefix(head.loss_by_feat(outputs[task], data_samples), task))
        return losses

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Images -> per-task outputs resized to the (padded) input size."""
        feats = self.extract_feat(inputs)
        return {task: head.predict_by_feat(out, batch_img_metas)
                for (task, head), out in zip(self.heads.items(), self.forward_heads(feats).values())}

    # ----------------------------------------------------------------- modes
    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        feats = self.extract_feat(inputs)
        self.shared_rep = feats
        return self.task_losses(self.forward_heads(feats), data_samples)

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=inputs.shape[2:], ori_shape=inputs.shape[2:]))
                            for _ in range(inputs.shape[0])]
        metas = [s.metainfo for s in data_samples]
        return self.postprocess(self.encode_decode(inputs, metas), data_samples)

    def _forward(self, inputs: Tensor, data_samples: OptConfigType = None) -> Dict[str, Tensor]:
        return self.forward_heads(self.extract_feat(inputs))

    def train_step(self, data, optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """mmengine's train step, with the task losses balanced by ``self.weighting`` when one is set."""
        from jdbench.engine.optimizers import weighted_train_step
        return weighted_train_step(self, data, optim_wrapper)

    # ----------------------------------------------------------------- post-processing
    def postprocess(self, outputs: Dict[str, Tensor], data_samples: SampleList) -> SampleList:
        """Undo padding and flip, resize to ``ori_shape``, and store the predictions in the samples."""
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0] * 4))
            for task, out in outputs.items():
                h, w = out.shape[2:]
                o = out[i:i + 1, :, top:h - bottom, left:w - right]
                if meta.get('flip', False):
                    o = o.flip(dims=(3, ) if meta.get('flip_direction') == 'horizontal' else (2, ))
                o = resize(o, size=meta['ori_shape'], mode='bilinear', align_corners=False, warning=False)[0]
                if self.task_kind(task) == 'depth':
                    sample.set_data({'pred_depth_map': PixelData(data=o)})
                else:
                    sample.set_data({'seg_logits': PixelData(data=o),
                                     'pred_sem_seg': PixelData(data=o.argmax(dim=0, keepdim=True))})
        return data_samples
