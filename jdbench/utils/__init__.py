from .checkpoint import allowed_checkpoint_globals, register_safe_globals

__all__ = ['allowed_checkpoint_globals', 'register_safe_globals']
