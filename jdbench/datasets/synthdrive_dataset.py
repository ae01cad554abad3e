"""SynthDrive: synthetic driving scenes in the Cityscapes layout, rendered on first use."""
import os.path as osp
from typing import List, Optional

from mmengine.logging import MMLogger

from jdbench.registry import DATASETS
from .cityscapes import CityscapesJointDataset
from .render_once import render_once

# Written into the data root after rendering: the generation arguments, to detect stale data.
GENERATE_RECORD = 'synthdrive_generate.json'


@DATASETS.register_module()
class SynthDriveDataset(CityscapesJointDataset):
    """SynthDrive (Cityscapes layout, splits ``'train'``, ``'val'``), rendered if ``data_root`` is missing.

    With ``generate`` set and ``data_root`` missing (or empty), the first construction renders both splits
    with ``jdbench.datasets.synthdrive.generate_synthdrive`` into a temporary sibling folder and renames it to
    ``data_root`` atomically; concurrent processes (DDP ranks) wait on a lock file ``{data_root}.lock`` and
    use the result, and if another process still got there first its data are used and ours discarded. The
    arguments are recorded in ``{data_root}/synthdrive_generate.json``; existing data rendered with other
    arguments are used with a warning (delete the folder or use another ``data_root`` to re-render).

    Args:
        generate (dict, optional): ``num_train``, ``num_val`` (required), ``size`` (``(H, W)``, default
            ``(128, 256)``), ``seed`` (0), ``style`` (``'day'``); further keys are passed on to the renderer.
            None: a missing ``data_root`` is an error.
        **kwargs: :class:`CityscapesJointDataset` arguments.
    """
    GENERATE_DEFAULTS = dict(size=(128, 256), seed=0, style='day')

    def __init__(self, generate: Optional[dict] = None, **kwargs) -> None:
        self.generate = self._check_generate(generate)
        super().__init__(**kwargs)

    @classmethod
    def _check_generate(cls, generate: Optional[dict]) -> Optional[dict]:
        if generate is None:
            return None
        missing = [k for k in ('num_train', 'num_val') if k not in generate]
        if missing:
            raise ValueError(f'generate needs {missing} (e.g. generate=dict(num_train=2000, num_val=300, '
                             f'size=(128, 256), seed=0, style="day")), got {generate}')
        cfg = {**cls.GENERATE_DEFAULTS, **generate}
        cfg['size'] = tuple(int(v) for v in cfg['size'])
        if len(cfg['size']) != 2:
            raise ValueError(f'generate size must be (H, W), got {generate["size"]}')
        return cfg

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        return ('Render SynthDrive with `python tools/dataset_converters/synthdrive.py` (see --help), or set '
                'generate=dict(num_train=..., num_val=..., size=(H, W), seed=0, style="day") in the dataset '
                'config to render it on first use.')

    def load_data_list(self) -> List[dict]:
        """Render the data if needed, then load it like :class:`CityscapesJointDataset`."""
        if self.generate is not None:
            if self.data_root is None:
                raise ValueError('SynthDriveDataset with generate=... needs data_root '
                                 '(where to render the data).')
            self._ensure_rendered(osp.abspath(self.data_root))
        return super().load_data_list()

    def _ensure_rendered(self, root: str) -> None:
        """Render into ``root`` once (:func:`~jdbench.datasets.render_once.render_once`)."""
        from jdbench.datasets.synthdrive import generate_synthdrive
        gen = self.generate
        plan = (f'rendering {gen["num_train"]} train + {gen["num_val"]} val images of {gen["size"][0]}x'
                f'{gen["size"][1]} (style {gen["style"]!r}, seed {gen["seed"]})')
        render_once(root, lambda out: generate_synthdrive(out, logger=MMLogger.get_current_instance(), **gen), gen,
                    GENERATE_RECORD, 'SynthDrive data', plan)
