"""SynthDrive sequences (KITTI raw layout), rendered on first use and read by the KITTI raw loader."""
import os.path as osp
from typing import List, Optional

from mmengine.logging import MMLogger

from jdbench.registry import DATASETS
from .kitti import KITTIRawDataset
from .render_once import is_missing, render_once

# Written into the data root after rendering: the generation arguments, to detect stale data.
GENERATE_RECORD = 'synthdrive_seq_generate.json'
# Written last by ``render_sequences``: marks a complete rendering.
SEQ_META_FILE = 'synthdrive_seq_meta.json'


@DATASETS.register_module()
class SynthDriveSeqDataset(KITTIRawDataset):
    """SynthDrive video in the KITTI raw layout, rendered if ``data_root`` is missing, read as KITTI raw.

    A thin :class:`KITTIRawDataset`: with ``generate`` set and ``data_root`` missing (or empty), the first
    construction renders the drives with ``jdbench.datasets.synthdrive.render_sequences`` into a temporary
    sibling folder and renames it to ``data_root`` atomically (concurrent processes, e.g. DDP ranks, wait on
    ``{data_root}.lock`` and use the result); then the split file is read by the real KITTI loader code
    (calibration, frame triplets, annotated depth, labels, poses). The arguments are recorded in
    ``{data_root}/synthdrive_seq_generate.json``; data rendered with other arguments are used with a warning
    (delete the folder or use another ``data_root`` to render again).

    The renderer writes ``splits/<split_name>/{train,val,test}_files.txt``: train and val list the frames with a
    neighbour on either side (triplets), test lists every frame of the test drives. The ground truth of
    ``gt='annotated'`` is the dense rendered camera z-depth (0 = sky); ``gt='velodyne'`` projects the
    LiDAR-like scans as for real KITTI.

    Args:
        split_file (str): relative to ``data_root``. Defaults to ``'splits/synthdrive/train_files.txt'``.
        generate (dict, optional): ``num_sequences``, ``num_frames`` (required; at least 3 frames); ``size``
            (``(H, W)``, default ``(128, 416)``), ``seed`` (0), ``style`` (``'day'``), ``num_val``, ``num_test``
            (drives; default 10 % each, at least 1), ``split_name`` (``'synthdrive'``), ``drives_per_date``
            (10), ``scan`` (a dict of :class:`~jdbench.datasets.synthdrive.lidar.LidarScan` fields). None: a
            missing ``data_root`` is an error.
        **kwargs: :class:`KITTIRawDataset` arguments (``data_root``, ``frame_ids``, ``gt``, ``with_seg``,
            ``pipeline``...).
    """
    GENERATE_DEFAULTS = dict(size=(128, 416), seed=0, style='day', num_val=None, num_test=None,
                             split_name='synthdrive', drives_per_date=10)
    GENERATE_REQUIRED = ('num_sequences', 'num_frames')

    def __init__(self, split_file: str = 'splits/synthdrive/train_files.txt', generate: Optional[dict] = None,
                 **kwargs) -> None:
        self.generate = self._check_generate(generate)
        super().__init__(split_file=split_file, **kwargs)

    @classmethod
    def _check_generate(cls, generate: Optional[dict]) -> Optional[dict]:
        if generate is None:
            return None
        example = ('generate=dict(num_sequences=40, num_frames=20, size=(96, 320), seed=0, style="day", '
                   'num_val=0, num_test=4)')
        missing = [k for k in cls.GENERATE_REQUIRED if k not in generate]
        if missing:
            raise ValueError(f'generate needs {missing} (e.g. {example}), got {dict(generate)}')
        known = set(cls.GENERATE_REQUIRED) | set(cls.GENERATE_DEFAULTS) | {'scan'}
        unknown = sorted(set(generate) - known)
        if unknown:
            raise ValueError(f'unknown generate key(s) {unknown}; known: {sorted(known)} (e.g. {example})')
        cfg = {**cls.GENERATE_DEFAULTS, **generate}
        cfg['size'] = tuple(int(v) for v in cfg['size'])
        if len(cfg['size']) != 2:
            raise ValueError(f'generate size must be (H, W), got {generate["size"]}')
        if int(cfg['num_frames']) < 3:
            raise ValueError(f'generate num_frames={cfg["num_frames"]}: a sequence needs at least 3 frames '
                             '(training uses frame triplets -1, 0, +1)')
        if cfg.get('scan') is not None:
            cfg['scan'] = dict(cfg['scan'])
        return cfg

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        return ('Render the sequences with `python tools/dataset_converters/synthdrive_seq.py --out DATA_ROOT '
                '--num-sequences N --frames F` (see --help), or set generate=dict(num_sequences=..., '
                'num_frames=..., size=(H, W)) in the dataset config to render them on first use.')

    def load_data_list(self) -> List[dict]:
        """Render the data if needed, then load it like :class:`KITTIRawDataset`."""
        root = osp.abspath(self.data_root)
        if self.generate is not None:
            self._ensure_rendered(root)
            if not osp.isfile(self.ann_file):
                name = self.generate['split_name']
                raise FileNotFoundError(
                    f'split file {self.ann_file} is not in the rendered data: generate writes '
                    f'splits/{name}/{{train,val,test}}_files.txt under {root}; set split_file to one of them '
                    "(or generate's split_name to match).")
        elif is_missing(root):
            raise FileNotFoundError(f'SynthDrive sequence data {root} does not exist. {self.how_to_get_data()}')
        return super().load_data_list()

    def _ensure_rendered(self, root: str) -> None:
        """Render into ``root`` once (:func:`~jdbench.datasets.render_once.render_once`), then check that the
        rendering is complete."""
        gen = self.generate
        plan = (f'rendering {gen["num_sequences"]} drives x {gen["num_frames"]} frames of {gen["size"][0]}x'
                f'{gen["size"][1]} (style {gen["style"]!r}, seed {gen["seed"]})')
        render_once(root, self._render, gen, GENERATE_RECORD, 'SynthDrive sequences', plan)
        if not osp.isfile(osp.join(root, SEQ_META_FILE)):
            raise FileNotFoundError(
                f'{root} exists but holds no {SEQ_META_FILE}, which a complete SynthDrive sequence rendering '
                'writes last (an interrupted rendering, or other data): delete the folder to render it again, '
                'or set another data_root.')

    def _render(self, out: str) -> None:
        from jdbench.datasets.synthdrive import render_sequences
        from jdbench.datasets.synthdrive.lidar import LidarScan
        gen = dict(self.generate)
        if gen.get('scan') is not None:
            gen['scan'] = LidarScan(**{k: tuple(v) if isinstance(v, list) else v for k, v in gen['scan'].items()})
        else:
            gen.pop('scan', None)
        render_sequences(out, logger=MMLogger.get_current_instance(), **gen)
