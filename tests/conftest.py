"""Shared test set-up: one thread per process (CI has 2 cores) and jdbench's registries in scope."""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope='session')
def _jdbench_scope():
    import jdbench
    jdbench.register_all_modules(init_default_scope=True)
    yield
