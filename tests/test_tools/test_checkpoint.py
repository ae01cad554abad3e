"""The one checkpoint-loading path: weights_only=True with the allow-list, clear errors, used by mmengine too."""
import argparse

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import jdbench  # noqa: F401  (registers the loader)
from jdbench.utils import CheckpointError, load_state_dict_checked, read_checkpoint
from jdbench.utils.checkpoint import load_from_local


def test_mmengine_reads_local_checkpoints_through_jdbench(tmp_path, monkeypatch):
    """Runner.resume / load_from call mmengine's _load_checkpoint, which now reads with jdbench's loader."""
    assert CheckpointLoader._get_checkpoint_loader(str(tmp_path / 'iter_10.pth')) is load_from_local
    assert CheckpointLoader._get_checkpoint_loader('https://x/y.pth') is not load_from_local  # other schemes kept
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'iter_10.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)), message_hub=dict(log_scalars=dict(loss=buffer)),
                    meta=dict(iter=10)), path)
    seen = []
    load = torch.load
    monkeypatch.setattr(torch, 'load', lambda *a, **k: (seen.append(k), load(*a, **k))[1])
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert seen == [dict(map_location='cpu', weights_only=True)]  # explicit, whatever torch's default
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2)) and ckpt['meta']['iter'] == 10
    assert ckpt['message_hub']['log_scalars']['loss'].current() == 1.5  # the allow-list at work


def test_missing_damaged_and_unsafe_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth' does not exist; train one with tools/train.py"):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    damaged = tmp_path / 'damaged.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1000))), damaged)
    damaged.write_bytes(damaged.read_bytes()[:300])
    with pytest.raises(CheckpointError, match='is damaged or not a torch checkpoint'):
        _load_checkpoint(str(damaged))  # through mmengine as well
    unsafe = tmp_path / 'unsafe.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1)), args=argparse.Namespace(lr=0.1)), unsafe)
    with pytest.raises(CheckpointError, match=r'holds objects that jdbench does not load .*convert it once'):
        load_state_dict_checked(str(unsafe))
    assert isinstance(CheckpointError('x'), RuntimeError)  # callers that catch RuntimeError keep working
