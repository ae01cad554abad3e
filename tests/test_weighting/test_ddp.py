"""JointDDP on 2 CPU processes (gloo) gives the single-process update on the full batch
(also with gradient accumulation)."""
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jdbench.models.wrappers import JointDDP
from jdbench.registry import MODEL_WRAPPERS
from . import ddp_worker


def test_joint_ddp_registered():
    assert MODEL_WRAPPERS.get('JointDDP') is JointDDP


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason='needs gloo')
def test_joint_ddp_matches_single_process(tmp_path):
    # fork: the children inherit the imported modules (a spawn would re-import torch/mmseg for seconds)
    method = 'fork' if 'fork' in mp.get_all_start_methods() else 'spawn'
    ctx = mp.start_processes(ddp_worker.worker, args=(2, str(tmp_path)), nprocs=2, join=False,
                             start_method=method)
    deadline = time.monotonic() + 120
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail('the 2-process DDP run did not finish within 120 s')
    for name in ddp_worker.CONFIGS:
        ref = ddp_worker.run_single(name)
        for rank in range(2):
            got = torch.load(tmp_path / f'{name}_{rank}.pt', weights_only=True)
            assert set(got) == set(ref)
            for key, value in ref.items():
                torch.testing.assert_close(got[key], value, rtol=1e-5, atol=1e-5,
                                           msg=f'{name} rank {rank}: {key}')
