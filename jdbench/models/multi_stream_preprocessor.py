"""Pre-processing of the batches of a :class:`~jdbench.datasets.MultiStreamDataset`, stream by stream."""
from typing import Any, Dict, Union

from mmengine.model import BaseDataPreprocessor
from mmseg.utils import ConfigType

from jdbench.registry import MODELS


@MODELS.register_module()
class MultiStreamDataPreProcessor(BaseDataPreprocessor):
    """Applies one wrapped pre-processor to each stream of a batch.

    A training batch of a ``MultiStreamDataset`` is ``{name: {'inputs': [...], 'data_samples': [...]}}``;
    the result is ``{name: preprocessor(stream batch, training)}``, e.g. ``{'source': {'inputs':
    (B, 3, H, W), 'data_samples': [...]}, 'target': {...}}``. A plain batch (one with ``'inputs'``, as the
    validation and test loaders give) goes to the wrapped pre-processor unchanged, so the same model
    evaluates as usual.

    Attributes that this class does not define (``mean``, ``std``, ``pad_val``, ...) are read from the
    wrapped pre-processor, so code that inspects a model's normalisation (teachers matching their inputs)
    sees it.

    Args:
        preprocessor (dict): config of the wrapped pre-processor, e.g.
            ``dict(type='JointDataPreProcessor', ...)``.
    """

    def __init__(self, preprocessor: Union[ConfigType, BaseDataPreprocessor]) -> None:
        super().__init__()
        self.preprocessor = MODELS.build(preprocessor) if isinstance(preprocessor, dict) else preprocessor

    def forward(self, data: Dict[str, Any], training: bool = False) -> Dict[str, Any]:
        """``{name: stream batch}`` -> ``{name: pre-processed stream batch}``; a plain batch as usual."""
        if 'inputs' in data:
            return self.preprocessor(data, training)
        not_streams = [k for k, v in data.items() if not (isinstance(v, dict) and 'inputs' in v)]
        if not_streams:
            raise ValueError('MultiStreamDataPreProcessor expects {stream: {"inputs", "data_samples"}} or a '
                             f'plain batch with "inputs"; entries {not_streams} are neither '
                             f'(keys: {list(data)})')
        return {name: self.preprocessor(batch, training) for name, batch in data.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == 'preprocessor':
                raise
            return getattr(self.preprocessor, name)
