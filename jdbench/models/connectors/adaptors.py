"""KD4MTL's task-specific adaptors (Li & Bilen, 2020): a 1x1 convolution on the student's shared features."""
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from jdbench.registry import MODELS


@MODELS.register_module()
class KD4MTLAdaptor(BaseModule):
    """1x1 convolution without bias, Xavier-uniform initialised: student features -> teacher feature space.

    Args:
        in_channels (int): student feature channels.
        out_channels (int): teacher feature channels.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(init_cfg=None)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        nn.init.xavier_uniform_(self.conv.weight)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H, W)."""
        return self.conv(x)
