"""A frozen teacher that gives every output level of a multi-level segmentor."""
import copy
import os.path as osp
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.config import Config
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers import Teacher
from ..teachers.teacher import _resolve_config

#: models whose trained network is their ``student`` entry (their ``final.pth`` is that network's weights)
WRAPPERS = ('AdaptSegNet', 'DAKD')


def _network_config(config: Union[str, dict]) -> Tuple[Union[str, dict], Optional[str]]:
    """(what :class:`Teacher` builds, the config path or None): the ``student`` network of an
    AdaptSegNet/DAKD training config, else the config unchanged."""
    if not isinstance(config, str):
        cfg = copy.deepcopy(dict(config))
        model = cfg.get('model', cfg) if 'type' not in cfg else cfg
        if isinstance(model, dict) and str(model.get('type', '')).split('.')[-1] in WRAPPERS:
            return dict(model['student']), None
        return config, None
    path = _resolve_config(config)
    if not osp.isfile(path):
        return config, config      # Teacher raises its own error
    model = Config.fromfile(path).model
    if str(model.get('type', '')).split('.')[-1] in WRAPPERS:
        return model.student.to_dict(), config
    return config, config


@MODELS.register_module()
class MultiLevelTeacher(Teacher):
    """:class:`Teacher` (frozen, eval mode, own checkpoint and normalisation) with :meth:`forward_levels`.

    The config may be the teacher's own training config: an ``AdaptSegNet`` config (the adapted teacher) or a
    plain :class:`MultiLevelSegmentor`/``JointStudent`` one (e.g. the source-only teacher); of a training
    config with a ``student`` entry the network built is that entry, whose weights its ``final.pth`` holds.
    ``cfg_options`` keys address the network's config (``'model.backbone.base_channels'``).

    A :class:`MultiLevelSegmentor` gives its levels (``('aux', 'final')``); any other segmentation teacher
    the final level only.
    """

    def __init__(self, config: Union[str, dict], checkpoint: Optional[str], **kwargs) -> None:
        network, path = _network_config(config)
        # set before Teacher.__init__, whose checkpoint errors name the training config (_train_hint)
        object.__setattr__(self, 'training_config', path)
        super().__init__(network, checkpoint, **kwargs)
        if path is not None:
            self.config_path = path
        if self.kind != 'seg':
            raise TypeError(f'MultiLevelTeacher: the teacher must be a segmentation model, got a {self.kind} '
                            f'model ({path or "config dict"})')

    def _train_hint(self) -> str:
        path = self.training_config
        if path is None:
            return super()._train_hint()
        work_dir = osp.dirname(self.checkpoint) if self.checkpoint else 'work_dirs/<name>'
        return f'train it first: python tools/train.py {path} --work-dir {work_dir}'

    @property
    def levels(self) -> Tuple[str, ...]:
        """The levels :meth:`forward_levels` gives, earliest first."""
        return tuple(getattr(self.model, 'levels', ('final', )))

    @torch.no_grad()
    def forward_levels(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Distiller-normalised images (B, 3, H, W) -> ``{level: logits (B, C, h, w)}``, without grad."""
        x = self.adapt_inputs(inputs)
        if hasattr(self.model, 'forward_levels'):
            out = self.model.forward_levels(x)
            self.model.shared_rep = None
        else:
            out = {'final': self._task_output(x)}
        for rec in self.recorders.values():
            rec.data = None
        return out
