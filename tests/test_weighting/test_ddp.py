"""JointDDP on 2 CPU processes (gloo) gives the single-process update on the full batch
(also with gradient accumulation)."""
import pytest
import torch
import torch.distributed as dist

from jdbench.models.wrappers import JointDDP
from jdbench.testing import run_processes
from jdbench.registry import MODEL_WRAPPERS
from . import ddp_worker


def test_joint_ddp_registered():
    assert MODEL_WRAPPERS.get('JointDDP') is JointDDP


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason='needs gloo')
def test_joint_ddp_matches_single_process(tmp_path):
    # fork: the children inherit the imported modules (a spawn would re-import torch/mmseg for seconds)
    run_processes(ddp_worker.worker, nprocs=2, args=(2, str(tmp_path)), start_method='fork')
    for name in ddp_worker.CONFIGS:
        ref = ddp_worker.run_single(name)
        for rank in range(2):
            got = torch.load(tmp_path / f'{name}_{rank}.pt', weights_only=True)
            assert set(got) == set(ref)
            for key, value in ref.items():
                torch.testing.assert_close(got[key], value, rtol=1e-5, atol=1e-5,
                                           msg=f'{name} rank {rank}: {key}')
