"""The depth network of self-supervised monocular depth: any backbone + a Monodepth2-style decoder."""
import copy
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.utils import ConfigType, OptMultiConfig
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers.recorder import ModuleOutputsRecorder


class Conv3x3(nn.Sequential):
    """Reflection pad 1 + 3×3 convolution (with bias)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3))


class ConvBlock(nn.Sequential):
    """:class:`Conv3x3` + ELU (Monodepth2's decoder block)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(Conv3x3(in_channels, out_channels), nn.ELU(inplace=True))


@MODELS.register_module()
class DepthDecoder(BaseModule):
    """Monodepth2's depth decoder: multi-scale sigmoid disparity from encoder features.

    Stage i (i = n−1 .. 0, n = log2 of the coarsest stride, 5 for stride 32) turns the running feature into
    ``num_ch_dec[i]`` channels (ConvBlock), upsamples it ×2 (nearest, to the skip's size when there is one),
    concatenates the encoder feature of stride 2^i when the encoder has one, and applies a second ConvBlock.
    Its output has stride 2^i; at the scales in ``scales`` a Conv3x3 + sigmoid gives the disparity of scale i
    (``1/2^i`` of the input resolution; scale 0 = full resolution).

    Monodepth2's ResNet encoder gives 5 features (strides 2..32, the first being relu(bn(conv1))). An encoder
    with 4 features (strides 4..32, e.g. an mmseg ResNet with ``out_indices=(0, 1, 2, 3)``) is handled the
    same way: stages 1 and 0 have no skip, so the decoder upsamples once more without one.

    Args:
        in_channels (Sequence[int]): channels of the encoder features, finest first.
        in_strides (Sequence[int]): their strides (powers of 2, increasing), e.g. ``(2, 4, 8, 16, 32)``.
        num_ch_dec (Sequence[int]): decoder channels per stage 0..n−1. Defaults to (16, 32, 64, 128, 256).
        scales (Sequence[int]): the disparity scales given. Defaults to (0, 1, 2, 3).
        use_skips (bool): concatenate encoder features. Defaults to True.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 in_strides: Sequence[int],
                 num_ch_dec: Sequence[int] = (16, 32, 64, 128, 256),
                 scales: Sequence[int] = (0, 1, 2, 3),
                 use_skips: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels, in_strides = [int(c) for c in in_channels], [int(s) for s in in_strides]
        if len(in_channels) != len(in_strides) or not in_channels:
            raise ValueError(f'in_channels {in_channels} and in_strides {in_strides} must be non-empty lists '
                             'of one length')
        levels = [math.log2(s) for s in in_strides]
        if any(lv != int(lv) or lv < 1 for lv in levels) or sorted(set(levels)) != levels:
            raise ValueError(f'in_strides must be increasing powers of 2 (at least 2), got {in_strides}')
        self.num_stages = int(levels[-1])
        if len(num_ch_dec) != self.num_stages:
            raise ValueError(f'num_ch_dec needs one width per decoder stage 0..{self.num_stages - 1} (the '
                             f'coarsest encoder stride is {in_strides[-1]}), got {list(num_ch_dec)}')
        self.scales = tuple(sorted(int(s) for s in scales))
        if not self.scales or self.scales[0] < 0 or self.scales[-1] >= self.num_stages:
            raise ValueError(f'scales must lie in 0..{self.num_stages - 1}, got {list(scales)}')
        self.in_channels, self.in_strides = in_channels, in_strides
        self.num_ch_dec, self.use_skips = list(num_ch_dec), use_skips
        # stage i -> index of the encoder feature of stride 2^i (the skip), if any
        self.skip_index: Dict[int, int] = ({int(lv): k for k, lv in enumerate(levels[:-1])}
                                           if use_skips else {})
        self.upconvs0, self.upconvs1 = nn.ModuleList(), nn.ModuleList()
        for i in range(self.num_stages):
            c_in = in_channels[-1] if i == self.num_stages - 1 else self.num_ch_dec[i + 1]
            self.upconvs0.append(ConvBlock(c_in, self.num_ch_dec[i]))
            skip = in_channels[self.skip_index[i]] if i in self.skip_index else 0
            self.upconvs1.append(ConvBlock(self.num_ch_dec[i] + skip, self.num_ch_dec[i]))
        self.dispconvs = nn.ModuleDict({str(s): Conv3x3(self.num_ch_dec[s], 1) for s in self.scales})

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Encoder features (finest first) -> disparities in (0, 1), one (B, 1, H/2^s, W/2^s) per scale s, in
        the order of ``scales``."""
        if len(feats) != len(self.in_channels):
            raise ValueError(f'the decoder was built for {len(self.in_channels)} encoder features, got '
                             f'{len(feats)}')
        x = feats[-1]
        out: Dict[int, Tensor] = {}
        for i in range(self.num_stages - 1, -1, -1):
            x = self.upconvs0[i](x)
            if i in self.skip_index:
                skip = feats[self.skip_index[i]]
                x = torch.cat([F.interpolate(x, size=skip.shape[2:], mode='nearest'), skip], dim=1)
            else:
                x = F.interpolate(x, scale_factor=2, mode='nearest')
            x = self.upconvs1[i](x)
            if i in self.scales:
                out[i] = torch.sigmoid(self.dispconvs[str(i)](x))
        return [out[s] for s in self.scales]


@MODELS.register_module()
class MonoDepthNet(BaseModule):
    """Monocular depth network: an encoder (any mmseg / ``mmdet.`` backbone) + :class:`DepthDecoder`.

    The input is an RGB image in [0, 1] (B, 3, H, W), normalised inside as ``(x − mean)/std`` (Monodepth2:
    0.45, 0.225). The output is the list of sigmoid disparities of the decoder's ``scales`` (scale s at
    ``1/2^s`` of the input); :func:`jdbench.models.selfsup.disp_to_depth` turns them into depth.

    The encoder's feature channels and strides are read once at build time from a zero image (eval mode, no
    BN update), so the decoder needs no channel list.

    Args:
        backbone (dict): the encoder, e.g. ``dict(type='ResNet', depth=18, ...)`` (Monodepth2's ResNet-18:
            torchvision layout, so ``init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')``
            loads ImageNet weights) or a slim ``ResNetV1c`` (base width 16).
        decoder (dict, optional): :class:`DepthDecoder` overrides (``num_ch_dec``, ``scales``, ``use_skips``);
            ``in_channels``/``in_strides`` come from the encoder.
        stem_source (str, optional): a module of the backbone whose output is an extra, finest encoder
            feature (stride 2), as Monodepth2's relu(conv1): ``'relu'`` for mmseg's ``ResNet``, ``'stem'`` for
            ``ResNetV1c``. ``None`` (default): the backbone's own outputs only.
        mean (float): input mean. Defaults to 0.45.
        std (float): input std. Defaults to 0.225.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decoder: Optional[ConfigType] = None,
                 stem_source: Optional[str] = None,
                 mean: float = 0.45,
                 std: float = 0.225,
                 probe_size: Tuple[int, int] = (64, 64),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.mean, self.std = float(mean), float(std)
        self.stem_source = stem_source
        self._stem: Optional[ModuleOutputsRecorder] = None
        if stem_source is not None:
            self._stem = ModuleOutputsRecorder(stem_source)
            try:
                self._stem.attach(self.backbone)
            except KeyError as err:
                raise KeyError(f'MonoDepthNet stem_source: {err.args[0]}') from None
        channels, strides = self._probe(probe_size)
        decoder = copy.deepcopy(dict(decoder or {}))
        decoder.setdefault('type', 'DepthDecoder')
        for key, value in (('in_channels', channels), ('in_strides', strides)):
            if key in decoder and list(decoder[key]) != value:
                raise ValueError(f'decoder.{key}={list(decoder[key])} does not match the encoder ({value}); '
                                 'leave it out: MonoDepthNet reads it from the encoder')
            decoder[key] = value
        self.decoder = MODELS.build(decoder)

    @property
    def scales(self) -> Tuple[int, ...]:
        return self.decoder.scales

    def _probe(self, size: Tuple[int, int]) -> Tuple[List[int], List[int]]:
        was = self.backbone.training
        self.backbone.eval()
        try:
            with torch.no_grad():
                feats = self.encode(torch.zeros(1, 3, *size))
        finally:
            self.backbone.train(was)
        strides = [size[0] // f.shape[2] for f in feats]
        return [f.shape[1] for f in feats], strides

    def encode(self, images: Tensor) -> List[Tensor]:
        """RGB [0, 1] images (B, 3, H, W) -> encoder features, finest first."""
        feats = list(self.backbone((images - self.mean) / self.std))
        if self._stem is not None:
            feats.insert(0, self._stem.pop())
        return feats

    def forward(self, images: Tensor) -> List[Tensor]:
        """RGB [0, 1] images (B, 3, H, W) -> sigmoid disparities, one (B, 1, H/2^s, W/2^s) per scale."""
        return self.decoder(self.encode(images))

    def _forward(self, images: Tensor) -> Dict[str, Tensor]:
        """The deployed forward (cost analysis): the finest disparity, ``{'disp': (B, 1, H, W)}``."""
        return {'disp': self.forward(images)[0]}
