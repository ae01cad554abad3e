"""What a trajectory hook hands the model: the probe set's collated batches and its identity."""
from typing import List, NamedTuple, Optional


class Probe(NamedTuple):
    """The probe set as loaded by a hook from its ``probe_dataloader`` (a :class:`~jdbench.datasets.ProbeSubset`).

    ``batches``: collated, not pre-processed batches (``inputs`` + ``data_samples``), in probe order;
    ``hash``: the probe set's identity (:func:`~jdbench.datasets.probe_subset.probe_hash`), None when unknown;
    ``keys``: the image paths relative to ``data_root``, in probe order.
    """
    batches: List[dict]
    hash: Optional[str] = None
    keys: Optional[List[str]] = None
