from .checkpoint import (CheckpointError, allowed_checkpoint_globals, check_state_dict_matches,
                         load_state_dict_checked, load_weights, read_checkpoint, register_checkpoint_loader,
                         register_safe_globals, weights_target)

__all__ = [
    'CheckpointError', 'allowed_checkpoint_globals', 'check_state_dict_matches', 'load_state_dict_checked',
    'load_weights', 'read_checkpoint', 'register_checkpoint_loader', 'register_safe_globals', 'weights_target'
]
