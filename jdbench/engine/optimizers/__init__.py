from .multi_constructor import MultiOptimWrapperConstructor
from .weighted_optim_wrapper import AmpWeightedOptimWrapper, WeightedOptimWrapper, weighted_train_step

__all__ = [
    'WeightedOptimWrapper', 'AmpWeightedOptimWrapper', 'weighted_train_step', 'MultiOptimWrapperConstructor'
]
