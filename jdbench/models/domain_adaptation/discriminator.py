"""AdaptSegNet's fully-convolutional discriminator and the adversarial losses."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from jdbench.registry import MODELS

#: domain labels of the discriminators (AdaptSegNet's convention)
SOURCE_LABEL, TARGET_LABEL = 0.0, 1.0
GAN_TYPES = ('vanilla', 'lsgan')


@MODELS.register_module()
class FCDiscriminator(nn.Module):
    """The output-space discriminator of AdaptSegNet (Tsai et al., CVPR 2018).

    ``num_convs`` 4×4 convolutions with stride 2 and padding 1 (channels ``channels · 2^i``: 64-128-256-512 by
    default), each followed by LeakyReLU(0.2), then a 4×4 stride-2 convolution to one channel (logits, no
    sigmoid). A map (B, C, H, W) gives (B, 1, H/32, W/32) with the defaults.

    Args:
        in_channels (int): channels of its input: the class count for a softmax map (set by the models).
        channels (int): channels of the first convolution. Defaults to 64.
        num_convs (int): convolutions before the classifier. Defaults to 4.
        negative_slope (float): LeakyReLU slope. Defaults to 0.2.
    """

    def __init__(self, in_channels: int, channels: int = 64, num_convs: int = 4,
                 negative_slope: float = 0.2) -> None:
        super().__init__()
        if num_convs < 1 or channels < 1:
            raise ValueError(f'FCDiscriminator needs num_convs >= 1 and channels >= 1, got {num_convs}, '
                             f'{channels}')
        layers, c_in = [], in_channels
        for i in range(num_convs):
            c_out = channels * 2**i
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(negative_slope, True)]
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(c_in, 1, 4, stride=2, padding=1)
        self.in_channels = in_channels
        self.min_size = 2**(num_convs + 1)

    def forward(self, x: Tensor) -> Tensor:
        """Class probabilities (B, C, H, W) -> domain logits (B, 1, H / 2^(num_convs+1), ...)."""
        if x.shape[1] != self.in_channels:
            raise ValueError(f'FCDiscriminator expects {self.in_channels} channels, got {x.shape[1]}')
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(f'FCDiscriminator input {tuple(x.shape[2:])} is smaller than {self.min_size} '
                             'pixels on a side (each of its stride-2 convolutions halves it): feed it the '
                             "input-resolution map (resolution='input') or use fewer num_convs")
        return self.classifier(self.convs(x))


@MODELS.register_module()
class AdversarialLoss(nn.Module):
    """GAN loss of a discriminator's logits against a constant domain label.

    ``'vanilla'``: binary cross-entropy with logits, ``mean(softplus(d) − y·d)``; ``'lsgan'``: least squares,
    ``mean((d − y)²)`` (AdaptSegNet's ``--gan LS``). Source label 0, target label 1.

    Args:
        gan_type (str): ``'vanilla'`` (default) or ``'lsgan'``.
    """

    def __init__(self, gan_type: str = 'vanilla') -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f'gan_type must be one of {GAN_TYPES}, got {gan_type!r}')
        self.gan_type = gan_type

    def forward(self, logits: Tensor, label: float) -> Tensor:
        """Discriminator output (B, 1, h, w), the label it is pushed towards -> scalar."""
        target = torch.full_like(logits, float(label))
        if self.gan_type == 'vanilla':
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(logits, target)
