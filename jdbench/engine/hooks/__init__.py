from .data_model_check_hook import DataModelCheckHook

__all__ = ['DataModelCheckHook']
