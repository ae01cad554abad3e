"""Every shipped training config loads and builds its model (teacher weights replaced by random ones)."""
import glob

import pytest
from mmengine.config import Config

from jdbench.benchmark.config_utils import missing_teacher_options
from jdbench.registry import MODELS

CONFIGS = sorted(f for f in glob.glob('configs/**/*.py', recursive=True)
                 if '/_base_/' not in f and '/benchmarks/' not in f)


def test_every_method_has_a_config():
    names = {f.split('/')[-1] for f in CONFIGS}
    for ds in ('synthdrive', 'cityscapes'):
        for method in ('mtl', 'stl_seg', 'stl_depth', 'kd_static', 'kd4mtl'):
            assert f'{method}_{ds}.py' in names
        assert f'jd_{ds}.py' in names and f'seg_{ds}.py' in names and f'depth_{ds}.py' in names


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(missing_teacher_options(cfg))
    if cfg.model.get('trajectory'):
        cfg.model.trajectory = None  # needs the data of a running config; built in the distiller tests
    model = MODELS.build(cfg.model)
    student = getattr(model, 'student', model)
    classes = len(Config.fromfile(path).train_dataloader.dataset.get('metainfo', {}).get('classes', [])) or 19
    assert all(n == classes for n in student.num_classes.values())
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.default_scope == 'jdbench'
