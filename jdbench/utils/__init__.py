from .checkpoint import (allowed_checkpoint_globals, check_state_dict_matches, load_state_dict_checked,
                         register_safe_globals)

__all__ = ['allowed_checkpoint_globals', 'register_safe_globals', 'load_state_dict_checked',
           'check_state_dict_matches']
