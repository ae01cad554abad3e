"""jdbench registries.

Every registry that builds something mmseg already builds is a child of mmseg's, so an mmseg component (and,
through the shared mmengine root, an ``mmdet.``-scoped one) is usable from any jdbench config. ``WEIGHTINGS``
is a new root registry for loss-weighting strategies.
"""
import mmdet.registry  # noqa: F401  (registers the ``mmdet`` scope under the mmengine root)
from mmengine.registry import Registry
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS

MODELS = Registry('model', parent=MMSEG_MODELS, scope='jdbench', locations=['jdbench.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope='jdbench', locations=['jdbench.models'])
DATASETS = Registry('dataset', parent=MMSEG_DATASETS, scope='jdbench', locations=['jdbench.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope='jdbench', locations=['jdbench.datasets.transforms'])
METRICS = Registry('metric', parent=MMSEG_METRICS, scope='jdbench', locations=['jdbench.evaluation'])
HOOKS = Registry('hook', parent=MMSEG_HOOKS, scope='jdbench', locations=['jdbench.engine'])
LOOPS = Registry('loop', parent=MMSEG_LOOPS, scope='jdbench', locations=['jdbench.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=MMSEG_VISUALIZERS, scope='jdbench', locations=['jdbench.visualization'])

# New root registry: loss-weighting / gradient-manipulation strategies (see jdbench/weighting).
WEIGHTINGS = Registry('weighting', scope='jdbench', locations=['jdbench.weighting'])
