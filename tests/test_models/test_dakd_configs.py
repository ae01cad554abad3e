"""configs/dakd: every config loads and builds (teacher weights random where its run is missing), the
paradigm configs differ from the full one by the paradigm only, and every lambda of the official code is a
config field with its default."""
import glob

import pytest
from mmengine.config import Config

from jdbench.benchmark.config_utils import missing_teacher_options
from jdbench.models.domain_adaptation import PARADIGMS
from jdbench.registry import MODELS

# the joint seg + depth variant (jd_dakd_*) has its own tests: tests/test_models/test_jd_dakd.py
CONFIGS = sorted(p for p in glob.glob('configs/dakd/*.py') if not p.split('/')[-1].startswith('jd_'))
SETTINGS = ('synthdrive_day2fog', 'gta5_to_cityscapes', 'bdd_to_cityscapes')
KINDS = ('source_only_student', 'adaptsegnet_student', 'adaptsegnet_teacher', 'source_only_teacher', 'dakd_all',
         'oracle_student') + tuple(f'dakd_{p}' for p in PARADIGMS)


def test_every_setting_has_every_config():
    names = {f.split('/')[-1] for f in CONFIGS}
    assert {f'{k}_{s}.py' for k in KINDS for s in SETTINGS} <= names
    assert 'adaptsegnet_deeplabv2_gta5_to_cityscapes.py' in names


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(missing_teacher_options(cfg))
    model = MODELS.build(cfg.model)
    student = getattr(model, 'student', model)
    assert student.num_classes == {'seg': 19} and student.levels == ('aux', 'final')
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.default_scope == 'jdbench'
    kind = type(model).__name__
    if kind in ('AdaptSegNet', 'DAKD'):
        assert cfg.train_dataloader.dataset.type == 'MultiStreamDataset'
        assert set(cfg.optim_wrapper) - {'constructor'} == {'student', 'discriminator'}
        assert type(model.data_preprocessor).__name__ == 'MultiStreamDataPreProcessor'
        assert model.lambda_adv == dict(aux=0.0002, final=0.001) and list(model.discriminator) == ['aux', 'final']
    else:
        assert cfg.train_dataloader.dataset.type != 'MultiStreamDataset'
    if kind == 'DAKD':
        assert (model.lambda_kl, model.lambda_mse, model.lambda_target_ce, model.lambda_seg,
                model.target_distill) == (0.1, 0.01, 1.0, 0.1, 1.0)
        assert model.kl_loss.mode == 'true' and model.teacher.levels == ('aux', 'final')
        assert model.teacher.config_path.startswith('configs/dakd/adaptsegnet_teacher_')
        name = path.split('/')[-1]
        paradigm = next((p for p in PARADIGMS if f'dakd_{p}_' in name), None)
        assert model.paradigm == paradigm
        full = Config.fromfile(path.replace(f'dakd_{paradigm}_', 'dakd_all_')) if paradigm else cfg
        if paradigm:
            full.model.paradigm = paradigm
            assert full.model.to_dict() == Config.fromfile(path).model.to_dict()


def test_teacher_from_a_plain_or_an_adaptsegnet_training_config():
    """MultiLevelTeacher builds the network of either kind of teacher config (cfg_options address it)."""
    shrink = {'model.backbone.base_channels': 8, 'model.backbone.stem_channels': 8,
              'model.neck.in_channels': [8, 16, 32, 64], 'model.neck.out_channels': 16,
              'model.decode_head.in_channels': 16, 'model.decode_head.channels': 16,
              'model.aux_head.in_channels': 32, 'model.aux_head.channels': 32}
    for name in ('source_only_teacher', 'adaptsegnet_teacher'):
        path = f'configs/dakd/{name}_synthdrive_day2fog.py'
        teacher = MODELS.build(dict(type='MultiLevelTeacher', config=path, checkpoint=None, cfg_options=shrink))
        assert type(teacher.model).__name__ == 'MultiLevelSegmentor' and teacher.config_path == path
        assert teacher.levels == ('aux', 'final') and teacher.model.backbone.base_channels == 8
