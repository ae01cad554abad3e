"""Worker of the 2-process gloo test (kept out of test modules so the children import little)."""
import os
from datetime import timedelta

import torch
import torch.distributed as dist

from jdbench.engine.optimizers import WeightedOptimWrapper
from jdbench.models.wrappers import JointDDP
from .toy import ToyJoint, toy_batch

# name -> (weighting, accumulative_counts); every run must equal one process on the full batch
CONFIGS = {
    'PCGrad': (dict(type='PCGrad'), 1),
    'UW': (dict(type='UW'), 1),
    'MGDA_rep': (dict(type='MGDA', rep_grad=True), 1),
    'FAMO': (dict(type='FAMO'), 1),
    'PCGrad_acc2': (dict(type='PCGrad'), 2),
    'UW_acc2': (dict(type='UW'), 2),
}
STEPS = 3
BATCH = 8


def run_single(name: str) -> dict:
    """The reference: one process, the full batch."""
    model = ToyJoint(weighting=CONFIGS[name][0], distill=True, seed=0)
    ow = WeightedOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    for step in range(STEPS):
        model.train_step(toy_batch(n=BATCH, seed=step), ow)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def worker(rank: int, world: int, out_dir: str) -> None:
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    torch.set_num_threads(1)
    # a file rendezvous (no port to pick) and a timeout, so a failure never hangs the test session
    dist.init_process_group('gloo', init_method=f'file://{os.path.join(out_dir, "rendezvous")}', rank=rank,
                            world_size=world, timeout=timedelta(seconds=60))
    try:
        import jdbench
        jdbench.register_all_modules(init_default_scope=True)
        per = BATCH // world
        for name, (cfg, accum) in CONFIGS.items():
            model = ToyJoint(weighting=cfg, distill=True, seed=0)
            ddp = JointDDP(model, device_ids=[rank], find_unused_parameters=True)   # as mmengine's runner
            ow = WeightedOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                                      accumulative_counts=accum)
            micro = per // accum
            for step in range(STEPS):
                batch = toy_batch(n=BATCH, seed=step)
                for m in range(accum):
                    start = rank * per + m * micro
                    ddp.train_step({k: v[start:start + micro] for k, v in batch.items()}, ow)
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            torch.save(state, os.path.join(out_dir, f'{name}_{rank}.pt'))
        dist.barrier()  # every rank's collectives are complete
    except BaseException:
        dist.destroy_process_group()
        raise
    # No teardown on success: freeing a DDP reducer or the gloo group with work still held in gloo's threads can
    # deadlock (the destructor joins a thread that waits for the GIL the destructor holds; seen with torch
    # 2.13). The results are on disk and the barrier has passed, so the process just ends.
    os._exit(0)
