"""The pose network of self-supervised monocular depth: a separate encoder on two stacked frames."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

from jdbench.registry import MODELS


@MODELS.register_module()
class PoseDecoder(BaseModule):
    """Monodepth2's pose decoder: 1×1 squeeze (→ 256) + ReLU, two 3×3 convs (256) + ReLU, 1×1 → 6·N,
    spatial mean, ×``scale``; split into axis-angle and translation per predicted frame.

    Args:
        in_channels (int): channels of the encoder's last feature.
        num_frames_to_predict_for (int): N. Monodepth2 builds 2 and uses the first only; the default keeps its
            layer sizes. Defaults to 2.
        channels (int): width. Defaults to 256.
        scale (float): output scale. Defaults to 0.01.
    """

    def __init__(self,
                 in_channels: int,
                 num_frames_to_predict_for: int = 2,
                 channels: int = 256,
                 scale: float = 0.01,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_out, self.scale = int(num_frames_to_predict_for), float(scale)
        self.squeeze = nn.Conv2d(in_channels, channels, 1)
        self.convs = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, 6 * self.num_out, 1))

    def forward(self, feat: Tensor) -> Tuple[Tensor, Tensor]:
        """Last encoder feature (B, C, h, w) -> axis-angle (B, N, 3) and translation (B, N, 3)."""
        out = self.convs(self.squeeze(feat)).mean(dim=(2, 3))
        out = self.scale * out.view(-1, self.num_out, 6)
        return out[..., :3], out[..., 3:]


@MODELS.register_module()
class PoseNet(BaseModule):
    """Relative camera pose from two frames stacked along channels (Monodepth2's ``separate_resnet``).

    ``forward(a, b)`` takes two RGB [0, 1] frames in temporal order and gives the axis-angle and translation
    of the transform that maps points of camera ``a`` into camera ``b``; build it with
    :func:`jdbench.models.selfsup.transformation_from_parameters` (``invert=True`` for the other direction).

    Args:
        backbone (dict): the encoder, with ``in_channels = 3 · num_frames`` (e.g. mmseg ``ResNet``, depth 18,
            ``in_channels=6``); its last output feeds the decoder.
        decoder (dict, optional): :class:`PoseDecoder` overrides; ``in_channels`` comes from the encoder.
        num_frames (int): frames stacked. Defaults to 2.
        pretrained (str, optional): a checkpoint of the same backbone with 3 input channels (a path,
            ``'torchvision://resnet18'``, a URL). Its first convolution is repeated over the frames and
            divided by their number (Monodepth2's ``resnet_multiimage_input``); keys the backbone lacks
            (``fc.*``) are skipped. Loaded by ``init_weights``.
        mean (float): input mean. Defaults to 0.45.
        std (float): input std. Defaults to 0.225.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decoder: Optional[ConfigType] = None,
                 num_frames: int = 2,
                 pretrained: Optional[str] = None,
                 mean: float = 0.45,
                 std: float = 0.225,
                 probe_size: Tuple[int, int] = (64, 64),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_frames, self.pretrained = int(num_frames), pretrained
        self.mean, self.std = float(mean), float(std)
        self.backbone = MODELS.build(backbone)
        was = self.backbone.training
        self.backbone.eval()
        try:
            with torch.no_grad():
                last = self.backbone(torch.zeros(1, 3 * self.num_frames, *probe_size))[-1]
        except RuntimeError as err:
            raise ValueError(f'PoseNet: the backbone does not take {3 * self.num_frames} input channels '
                             f'({self.num_frames} stacked frames); set backbone.in_channels='
                             f'{3 * self.num_frames} ({err})') from None
        finally:
            self.backbone.train(was)
        decoder = dict(decoder or {})
        decoder.setdefault('type', 'PoseDecoder')
        decoder['in_channels'] = int(last.shape[1])
        self.decoder = MODELS.build(decoder)

    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained is not None:
            load_multi_frame_weights(self.backbone, self.pretrained, self.num_frames)

    def forward(self, *frames: Tensor) -> Tuple[Tensor, Tensor]:
        """``num_frames`` RGB [0, 1] frames (B, 3, H, W) in temporal order -> axis-angle (B, 3) and
        translation (B, 3) of the first predicted transform."""
        if len(frames) != self.num_frames:
            raise ValueError(f'PoseNet takes {self.num_frames} frames, got {len(frames)}')
        x = (torch.cat(frames, dim=1) - self.mean) / self.std
        axisangle, translation = self.decoder(self.backbone(x)[-1])
        return axisangle[:, 0], translation[:, 0]


def load_multi_frame_weights(backbone: nn.Module, checkpoint: str, num_frames: int) -> Dict[str, list]:
    """Load a 3-channel checkpoint into a backbone with ``3·num_frames`` input channels.

    A weight whose input-channel dimension is ``num_frames`` times the checkpoint's is the checkpoint's
    repeated ``num_frames`` times and divided by ``num_frames``. Returns the skipped keys (``'unexpected'``,
    ``'missing'``).
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {k[len('backbone.'):] if k.startswith('backbone.') else k: v for k, v in state.items()}
    own = backbone.state_dict()
    out = {}
    for key, value in state.items():
        if key not in own:
            continue
        target = own[key]
        if (value.dim() == 4 and target.dim() == 4 and target.shape[1] == value.shape[1] * num_frames
                and target.shape[0] == value.shape[0] and target.shape[2:] == value.shape[2:]):
            value = torch.cat([value] * num_frames, dim=1) / num_frames
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(f'{checkpoint}: {key} has shape {tuple(value.shape)}, the pose backbone '
                             f'{tuple(target.shape)}; use a checkpoint of the same architecture')
        out[key] = value
    result = backbone.load_state_dict(out, strict=False)
    skipped = dict(unexpected=sorted(set(state) - set(own)), missing=list(result.missing_keys))
    print_log(f'pose backbone loaded from {checkpoint} (first conv repeated over {num_frames} frames); '
              f'skipped {len(skipped["unexpected"])} keys it lacks, {len(skipped["missing"])} missing',
              logger='current')
    return skipped
