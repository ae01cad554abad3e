"""Geometric loss strategy (Chennupati et al., "MultiNet++", CVPR-W 2019), as a jdbench plugin."""
import torch
from torch import Tensor

from jdbench.registry import WEIGHTINGS
from jdbench.weighting import BaseLossWeighting


@WEIGHTINGS.register_module()
class GeometricMean(BaseLossWeighting):
    """Minimise the geometric mean of the K objective losses, ``(prod_k L_k)^(1/K)``.

    Its gradient is ``sum_k GM / (K L_k) * grad L_k``, so the method is a loss weighting with the detached
    weights ``w_k = GM / (K L_k)``: an objective with a small loss gets a large weight, which keeps tasks of
    very different loss scales (cross-entropy vs. metres of depth error) from drowning each other.

    Args:
        eps (float): floor on each loss before the logarithm. Defaults to 1e-8.
    """

    def __init__(self, eps: float = 1e-8, **kwargs) -> None:
        self.eps = eps
        super().__init__(**kwargs)

    def compute_weights(self, losses: Tensor, iteration: int) -> Tensor:
        losses = losses.clamp(min=self.eps)
        gm = torch.exp(torch.log(losses).mean())
        return gm / (losses.numel() * losses)
