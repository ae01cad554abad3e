"""The frozen teacher wrapper and the module-path feature recorders."""
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from jdbench.models.teachers import ModuleInputsRecorder, ModuleOutputsRecorder, Teacher
from jdbench.registry import MODELS

SEG_CFG = 'configs/teachers/seg_synthdrive.py'
DEPTH_CFG = 'configs/teachers/depth_synthdrive.py'


def tiny(task):
    """cfg_options shrinking a teacher config (ResNet-18 base 8, FPN 16)."""
    return {'model.backbone.base_channels': 8, 'model.backbone.stem_channels': 8,
            'model.neck.in_channels': [8, 16, 32, 64], 'model.neck.out_channels': 16,
            f'model.heads.{task}.in_channels': 16, f'model.heads.{task}.channels': 16}


def save_teacher(path, config, task, **extra):
    """Build the tiny teacher from its real config, give its BN non-default statistics, save it."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({**tiny(task), **extra})
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.9, 1.1)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, str(path))
    return model


@pytest.fixture(scope='module')
def seg_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('teachers') / 'seg.pth'
    save_teacher(path, SEG_CFG, 'seg')
    return str(path)


@pytest.fixture(scope='module')
def depth_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('teachers') / 'depth.pth'
    save_teacher(path, DEPTH_CFG, 'depth')
    return str(path)


def build_seg_teacher(ckpt, **kw):
    return MODELS.build(dict(type='Teacher', config=SEG_CFG, checkpoint=ckpt, cfg_options=tiny('seg'), **kw))


def test_loads_checkpoint_and_stays_frozen(seg_ckpt):
    teacher = build_seg_teacher(seg_ckpt)
    saved = torch.load(seg_ckpt, weights_only=True)['state_dict']
    for key, value in teacher.model.state_dict().items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(value, saved[key], msg=key)
    assert (teacher.task, teacher.kind, teacher.num_classes) == ('seg', 'seg', 19)
    assert teacher.output_layer == 'heads.seg.conv_seg'
    assert not any(p.requires_grad for p in teacher.parameters())
    parent = nn.ModuleDict(dict(t=teacher)).train()
    assert parent.training and not teacher.training
    assert not any(m.training for m in teacher.modules())


def test_forward_gives_output_and_recorded_features_without_grad(seg_ckpt):
    teacher = build_seg_teacher(seg_ckpt, features=dict(
        last=dict(type='ModuleInputsRecorder', source='heads.seg.conv_seg'),
        fpn0=dict(type='ModuleOutputsRecorder', source='neck', index=0),
        logits=dict(type='ModuleOutputsRecorder', source='heads.seg.conv_seg')))
    x = torch.randn(2, 3, 32, 64, requires_grad=True)
    res = teacher(x)
    assert res.out.shape == (2, 19, 8, 16) and not res.out.requires_grad
    assert res.feats['last'].shape == (2, 16, 8, 16) and res.feats['fpn0'].shape == (2, 16, 8, 16)
    # the output of conv_seg is the task output; its input is conv_seg's argument
    torch.testing.assert_close(res.feats['logits'], res.out)
    torch.testing.assert_close(teacher.model.heads.seg.conv_seg(res.feats['last']), res.out)
    # same as running the plain model in eval mode
    with torch.no_grad():
        torch.testing.assert_close(teacher.model._forward(x)['seg'], res.out)
    assert teacher.probe((64, 64)) == {'out': (19, 16, 16), 'last': (16, 16, 16), 'fpn0': (16, 16, 16),
                                       'logits': (19, 16, 16)}


def test_recorders_capture_module_input_and_output():
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU())
    inp, out = ModuleInputsRecorder('1'), ModuleOutputsRecorder('0')
    inp.attach(model)
    out.attach(model)
    x = torch.randn(1, 2, 4, 4)
    y = model(x)
    conv = model[0](x)
    torch.testing.assert_close(inp.pop(), conv)           # input of the ReLU = output of the conv
    torch.testing.assert_close(out.pop(), conv)
    torch.testing.assert_close(y, conv.relu())
    with pytest.raises(RuntimeError, match='nothing recorded'):
        inp.pop()
    with pytest.raises(KeyError, match=r"close module names: \['0', '1'\]"):
        ModuleOutputsRecorder('2').attach(model)


def test_missing_checkpoint_names_the_train_command(tmp_path):
    missing = str(tmp_path / 'seg_synthdrive' / 'final.pth')
    with pytest.raises(FileNotFoundError) as err:
        build_seg_teacher(missing)
    assert f'python tools/train.py {SEG_CFG} --work-dir {tmp_path / "seg_synthdrive"}' in str(err.value)


def test_checkpoint_of_another_model_is_rejected(depth_ckpt):
    with pytest.raises(ValueError, match='does not match the model'):
        build_seg_teacher(depth_ckpt)


def test_nonexistent_feature_path_lists_close_names(seg_ckpt):
    with pytest.raises(KeyError) as err:
        build_seg_teacher(seg_ckpt,
                          features=dict(last=dict(type='ModuleInputsRecorder', source='heads.seg.conv_sg')))
    assert "'heads.seg.conv_sg' does not exist" in str(err.value) and "'heads.seg.conv_seg'" in str(err.value)


def test_input_normalisation_is_mapped_to_the_teacher(seg_ckpt):
    """A teacher trained with other mean/std and channel order sees its own normalisation of the image."""
    teacher = build_seg_teacher(seg_ckpt)
    distiller_dp = MODELS.build(dict(type='SegDataPreProcessor', mean=[10., 20., 30.], std=[2., 4., 8.],
                                     bgr_to_rgb=False))
    teacher.match_input_normalization(distiller_dp)
    raw = torch.rand(1, 3, 4, 4) * 255                      # BGR image
    x_distiller = (raw - torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)) / torch.tensor([2., 4., 8.]).view(
        1, 3, 1, 1)
    t_dp = teacher.model.data_preprocessor                   # RGB, ImageNet mean/std
    x_teacher = (raw.flip(1) - t_dp.mean.view(1, 3, 1, 1)) / t_dp.std.view(1, 3, 1, 1)
    torch.testing.assert_close(teacher.adapt_inputs(x_distiller), x_teacher, rtol=1e-5, atol=1e-4)
    teacher.match_input_normalization(teacher.model.data_preprocessor)
    assert teacher.adapt_inputs(x_distiller) is x_distiller


def test_mmseg_segmentor_as_teacher(tmp_path):
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.]),
        backbone=dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8, out_indices=(3, )),
        decode_head=dict(type='FCNHead', in_channels=64, channels=8, num_convs=1, num_classes=7, in_index=0,
                         concat_input=False))
    torch.save({'state_dict': MODELS.build(cfg).state_dict()}, str(tmp_path / 't.pth'))
    teacher = Teacher(cfg, str(tmp_path / 't.pth'),
                      features=dict(last=dict(type='ModuleInputsRecorder', source='decode_head.conv_seg')))
    assert (teacher.kind, teacher.num_classes, teacher.output_layer) == ('seg', 7, 'decode_head.conv_seg')
    res = teacher(torch.randn(1, 3, 64, 64))
    assert res.out.shape == (1, 7, 2, 2) and res.feats['last'].shape == (1, 8, 2, 2)
