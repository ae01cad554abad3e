"""Data pre-processor for frame sequences packed by ``PackSequenceInputs``."""
from typing import Any, Dict, Optional

import torch
from mmengine.model import BaseDataPreprocessor

from jdbench.registry import MODELS


@MODELS.register_module()
class SequenceDataPreProcessor(BaseDataPreprocessor):
    """Stack sequence items into a float batch in [0, 1] on the model's device.

    Each item's ``inputs`` is a uint8 ``(3·F·A, H, W)`` tensor of BGR frames (``PackSequenceInputs``: the F
    raw frames in ``frame_ids`` order, then the F colour-jittered ones when A = 2). The batch is
    ``(B, 3·F·A, H, W)`` float32 divided by 255, with every 3-channel frame turned BGR -> RGB
    (``bgr_to_rgb=True``); the model splits the frames. Floating-point inputs are taken to be in [0, 1]
    already.
    Each data sample gets ``batch_input_shape`` and ``pad_shape`` (= ``(H, W)``; nothing is padded).

    Args:
        bgr_to_rgb (bool): Reverse the channels of every frame. Defaults to True.
        non_blocking (bool): Non-blocking host-to-device copies.
    """

    def __init__(self, bgr_to_rgb: bool = True, non_blocking: Optional[bool] = False) -> None:
        super().__init__(non_blocking)
        self.bgr_to_rgb = bgr_to_rgb

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """``{'inputs': [ (3FA, H, W) ] or (B, 3FA, H, W), 'data_samples': [...]}`` -> the float batch."""
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) != 1:
                raise ValueError(f'SequenceDataPreProcessor: the items of a batch have different shapes '
                                 f'{sorted(shapes)}; resize every frame to one size (ResizeSequence) and use '
                                 'the same frame_ids and colour jitter (on or off) for every item.')
            inputs = torch.stack(list(inputs))
        if inputs.dim() != 4 or inputs.shape[1] % 3:
            raise ValueError('SequenceDataPreProcessor expects (B, 3*F*A, H, W) inputs, got '
                             f'{tuple(inputs.shape)}')
        x = inputs.float() / 255.0 if inputs.dtype == torch.uint8 else inputs.float()
        if self.bgr_to_rgb:
            b, c, h, w = x.shape
            x = x.view(b, c // 3, 3, h, w).flip(2).reshape(b, c, h, w)
        samples = data.get('data_samples')
        if samples is not None:
            for sample in samples:
                shape = tuple(x.shape[-2:])
                sample.set_metainfo(dict(batch_input_shape=shape, pad_shape=shape))
        return dict(inputs=x, data_samples=samples)
