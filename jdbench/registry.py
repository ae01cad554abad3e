"""jdbench registries.

Every registry that mmseg has gets a jdbench child, so an mmseg component (and, through the shared mmengine
root, an ``mmdet.``-scoped one) is usable from any jdbench config and nothing falls back with a warning.
``WEIGHTINGS`` is a new root registry for loss-weighting strategies.
"""
import mmdet.registry  # noqa: F401  (registers the ``mmdet`` scope under the mmengine root)
from mmengine import registry as mmengine_registry
from mmengine.registry import Registry
from mmseg import registry as mmseg_registry


def _child(name: str, parent: Registry, locations=None) -> Registry:
    return Registry(name, parent=parent, scope='jdbench', locations=locations or [])


MODELS = _child('model', mmseg_registry.MODELS, ['jdbench.models'])
# A direct child of mmengine's root: the Runner looks the wrapper type up in the root registry, whose scoped
# `get('jdbench.JointDDP')` searches only its direct children (mmseg registers no wrappers of its own).
MODEL_WRAPPERS = _child('model_wrapper', mmengine_registry.MODEL_WRAPPERS, ['jdbench.models'])
DATASETS = _child('dataset', mmseg_registry.DATASETS, ['jdbench.datasets'])
TRANSFORMS = _child('transform', mmseg_registry.TRANSFORMS, ['jdbench.datasets.transforms'])
METRICS = _child('metric', mmseg_registry.METRICS, ['jdbench.evaluation'])
HOOKS = _child('hook', mmseg_registry.HOOKS, ['jdbench.engine'])
LOOPS = _child('loop', mmseg_registry.LOOPS, ['jdbench.engine'])
VISUALIZERS = _child('visualizer', mmseg_registry.VISUALIZERS, ['jdbench.visualization'])
OPTIM_WRAPPERS = _child('optim_wrapper', mmseg_registry.OPTIM_WRAPPERS, ['jdbench.engine.optimizers'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor', mmseg_registry.OPTIM_WRAPPER_CONSTRUCTORS,
                                    ['jdbench.engine.optimizers'])
# Children that jdbench adds nothing to (yet): they keep builds in scope 'jdbench' free of fallback warnings.
RUNNERS = _child('runner', mmseg_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _child('runner constructor', mmseg_registry.RUNNER_CONSTRUCTORS)
DATA_SAMPLERS = _child('data sampler', mmseg_registry.DATA_SAMPLERS)
WEIGHT_INITIALIZERS = _child('weight initializer', mmseg_registry.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child('optimizer', mmseg_registry.OPTIMIZERS)
PARAM_SCHEDULERS = _child('parameter scheduler', mmseg_registry.PARAM_SCHEDULERS)
EVALUATOR = _child('evaluator', mmseg_registry.EVALUATOR)
TASK_UTILS = _child('task util', mmseg_registry.TASK_UTILS)
VISBACKENDS = _child('vis_backend', mmseg_registry.VISBACKENDS)
LOG_PROCESSORS = _child('log_processor', mmseg_registry.LOG_PROCESSORS)
INFERENCERS = _child('inferencer', mmseg_registry.INFERENCERS)

# New root registry: loss-weighting / gradient-manipulation strategies (see jdbench/weighting).
WEIGHTINGS = Registry('weighting', scope='jdbench', locations=['jdbench.weighting'])
