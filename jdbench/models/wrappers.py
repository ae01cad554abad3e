"""``JointDDP``: the DDP wrapper that keeps weighting strategies correct under distributed training."""
from typing import Dict, List, Union

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch.nn.parallel import DistributedDataParallel

from jdbench.registry import MODEL_WRAPPERS


def _weighting_state_names(module: nn.Module) -> List[str]:
    """Fully qualified names of the parameters and buffers of ``module.weighting``."""
    weighting = getattr(module, 'weighting', None)
    if not isinstance(weighting, nn.Module):
        return []
    prefix = next((name for name, mod in module.named_modules() if mod is weighting), None)
    if not prefix:
        return []
    return [f'{prefix}.{n}' for n, _ in weighting.named_parameters()] + \
        [f'{prefix}.{n}' for n, _ in weighting.named_buffers()]


@MODEL_WRAPPERS.register_module()
class JointDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for models that hold a weighting strategy (``module.weighting``).

    - Gradient strategies: the forward and the update run inside ``no_sync()`` (DDP's own all-reduce would
      average the already-combined gradient and, worse, the per-objective gradients would never be averaged);
      ``WeightedOptimWrapper.update_weighted`` averages the per-objective gradients before combining, so every
      rank applies the same combined gradient, equal to the single-process one on the full batch.
    - Loss strategies: the forward goes through DDP as usual and DDP averages the gradients; the strategy's
      parameters and buffers are excluded from DDP (they are used after the forward, which DDP with
      ``find_unused_parameters=True`` would report as unused and then see ready twice): the wrapper averages
      their gradients before the step, and the strategy sees the rank-averaged losses, so its state stays
      identical on every rank.
    - Models without ``weighting`` (or ``weighting=None``) behave as ``MMDistributedDataParallel``.

    Config: ``model_wrapper_cfg = dict(type='JointDDP', find_unused_parameters=True)``. On CPU (gloo) the
    ``device_ids`` mmengine's runner passes are dropped, as DDP requires for a CPU module.
    """

    def __init__(self, module: nn.Module, detect_anomalous_params: bool = False, **kwargs) -> None:
        if all(p.device.type == 'cpu' for p in module.parameters()):
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        ignored = _weighting_state_names(module)
        if ignored:
            existing = list(getattr(module, '_ddp_params_and_buffers_to_ignore', []) or [])
            DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
                module, existing + [n for n in ignored if n not in existing])
        super().__init__(module=module, detect_anomalous_params=detect_anomalous_params, **kwargs)
        if ignored and torch_dist.is_available() and torch_dist.is_initialized():
            # DDP broadcasts rank 0's state except the ignored tensors: do it for the strategy's state once.
            with torch.no_grad():
                for tensor in list(module.weighting.parameters()) + list(module.weighting.buffers()):
                    if tensor.numel():
                        torch_dist.broadcast(tensor.data, src=0, group=self.process_group)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Forward, weighted update and step: :func:`~jdbench.engine.optimizers.weighted_train_step`.

        A method with several optimizers (a discriminator: ``OptimWrapperDict``) has a ``train_step`` of its own
        that JointDDP cannot synchronise: use mmengine's ``MMSeparateDistributedDataParallel`` for it.
        """
        from jdbench.engine.optimizers import weighted_train_step
        if isinstance(optim_wrapper, OptimWrapperDict):
            raise NotImplementedError(
                f'{type(self.module).__name__} trains with several optimizers ({list(optim_wrapper.keys())}); '
                "JointDDP runs the one-optimizer step. Set model_wrapper_cfg=dict(type="
                "'MMSeparateDistributedDataParallel') (each sub-module in its own DDP; the model's train_step runs)")
        return weighted_train_step(self, data, optim_wrapper)
