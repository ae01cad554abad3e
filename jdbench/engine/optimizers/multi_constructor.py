"""One optimizer wrapper per part of the model: the student and, e.g., a discriminator with its own."""
import copy
from typing import Dict, List, Optional, Set

import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict

from jdbench.registry import OPTIM_WRAPPER_CONSTRUCTORS

ALL_OTHERS = '*'


def _pruned_view(module: nn.Module, keep: Set[int]) -> Optional[nn.Module]:
    """A shallow copy of ``module``'s tree holding only the parameters whose ``id`` is in ``keep``.

    Every copy keeps its class and attributes and the children keep their names, so mmengine's
    ``paramwise_cfg`` (``custom_keys`` matched on the model's full names, norm/DCN rules on module types) sees
    the kept parameters exactly as in the model, in the model's order. ``None`` when nothing is kept.
    """
    params = {n: p for n, p in module._parameters.items() if p is not None and id(p) in keep}
    children = {}
    for name, child in module._modules.items():
        view = _pruned_view(child, keep) if child is not None else None
        if view is not None:
            children[name] = view
    if not params and not children:
        return None
    view = copy.copy(module)
    view._parameters = params
    view._modules = children
    return view


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MultiOptimWrapperConstructor:
    """Builds an :class:`OptimWrapperDict` with one optimizer wrapper per key of the config.

    Each entry is an ordinary ``optim_wrapper`` config (``type``, ``optimizer``, optional ``paramwise_cfg``,
    ``clip_grad``, ...) built by mmengine's ``DefaultOptimWrapperConstructor`` over its parameters:

    - by default the sub-module of the model named like the key (``discriminator=dict(...)`` ->
      ``model.discriminator``);
    - ``modules=['student', 'connector']``: these sub-modules (dotted names reach deeper ones);
    - ``modules='*'``: every trainable parameter that no other entry claims (at most one such entry).

    The parameters keep the model's order and full names (``paramwise_cfg.custom_keys`` match e.g.
    ``'student.backbone'``). A parameter claimed by two entries, an unknown sub-module or an entry without
    trainable parameters is an error. Schedulers are given per key: ``param_scheduler=dict(student=[...],
    discriminator=[...])``.

    Example::

        optim_wrapper = dict(
            constructor='MultiOptimWrapperConstructor',
            student=dict(type='WeightedOptimWrapper', optimizer=dict(type='SGD', lr=0.01), modules='*'),
            discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)))

    Args:
        optim_wrapper_cfg (dict): key -> optim wrapper config (plus the optional ``modules``).
        paramwise_cfg (dict, optional): must be ``None``: give ``paramwise_cfg`` inside each entry.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError('MultiOptimWrapperConstructor: give paramwise_cfg inside each optimizer entry '
                             '(e.g. optim_wrapper.student.paramwise_cfg), not at the top level of '
                             'optim_wrapper')
        if not isinstance(optim_wrapper_cfg, dict) or not optim_wrapper_cfg:
            raise ValueError('MultiOptimWrapperConstructor needs one entry per optimizer, e.g. '
                             'optim_wrapper=dict(constructor=..., student=dict(optimizer=...), '
                             f'discriminator=dict(optimizer=...)); got {optim_wrapper_cfg!r}')
        self.modules: Dict[str, object] = {}
        self.constructors: Dict[str, DefaultOptimWrapperConstructor] = {}
        for key, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or 'optimizer' not in cfg:
                raise ValueError(f'optim_wrapper.{key} must be an optim wrapper config with an "optimizer", '
                                 f'got {cfg!r}')
            cfg = copy.deepcopy(dict(cfg))
            modules = cfg.pop('modules', None)
            if modules is None:
                modules = [key]
            elif isinstance(modules, str) and modules != ALL_OTHERS:
                modules = [modules]
            if modules != ALL_OTHERS and not (isinstance(modules, (list, tuple)) and modules
                                               and all(isinstance(m, str) for m in modules)):
                raise TypeError(f'optim_wrapper.{key}.modules must be "*" or a non-empty list of sub-module '
                                f'names, got {modules!r}')
            self.modules[key] = modules if modules == ALL_OTHERS else list(modules)
            paramwise = cfg.pop('paramwise_cfg', None)
            self.constructors[key] = DefaultOptimWrapperConstructor(cfg, paramwise)
        rest = [k for k, m in self.modules.items() if m == ALL_OTHERS]
        if len(rest) > 1:
            raise ValueError('only one optimizer entry can take modules="*" (every other parameter), '
                             f'got {rest}')

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        claimed: Dict[int, str] = {}          # id(param) -> key of the entry holding it
        params: Dict[str, List[nn.Parameter]] = {}
        for key, modules in self.modules.items():
            if modules == ALL_OTHERS:
                continue
            params[key] = self._params_of(model, key, modules)
            for p in params[key]:
                if id(p) in claimed:
                    name = next(n for n, q in model.named_parameters(remove_duplicate=False) if q is p)
                    raise ValueError(f'parameter {name!r} is claimed by optimizer entries '
                                     f'{claimed[id(p)]!r} and {key!r}; give each parameter to one entry '
                                     '(check their `modules`)')
                claimed[id(p)] = key
        for key, modules in self.modules.items():
            if modules == ALL_OTHERS:
                params[key] = [p for p in model.parameters() if p.requires_grad and id(p) not in claimed]
        wrappers = {}
        for key in self.modules:           # config order
            if not any(p.requires_grad for p in params[key]):
                what = ('no parameter is left for it' if self.modules[key] == ALL_OTHERS else
                        f'sub-modules {self.modules[key]} have none')
                raise ValueError(f'optimizer entry {key!r} has no trainable parameters ({what}); remove the '
                                 'entry or point its `modules` at the part of the model it should train')
            view = _pruned_view(model, {id(p) for p in params[key]})
            wrappers[key] = self.constructors[key](view)
        return OptimWrapperDict(**wrappers)

    @staticmethod
    def _params_of(model: nn.Module, key: str, modules: List[str]) -> List[nn.Parameter]:
        """The parameters of the named sub-modules (all of them, as mmengine's default constructor takes)."""
        seen: Set[int] = set()
        out: List[nn.Parameter] = []
        for name in modules:
            try:
                sub = model.get_submodule(name)
            except AttributeError:
                children = [n for n, _ in model.named_children()]
                raise ValueError(f'optimizer entry {key!r}: {type(model).__name__} has no sub-module '
                                 f'{name!r}; its children are {children}. Name the entry after a child or '
                                 'set its `modules` (a list of sub-module names, or "*" for every other '
                                 'parameter)') from None
            for p in sub.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out
