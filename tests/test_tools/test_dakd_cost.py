"""tools/analysis_tools/dakd_cost.py: the variants share the budget's AdaptSegNet part, or are refused."""
import argparse
import importlib.util

import pytest

SPEC = importlib.util.spec_from_file_location('dakd_cost', 'tools/analysis_tools/dakd_cost.py')
dakd_cost = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(dakd_cost)


def _args(**kw):
    base = dict(config='configs/dakd/dakd_all_synthdrive_day2fog.py', cfg_options=[], device='cpu',
                variants=[dakd_cost.VARIANT])
    return argparse.Namespace(**{**base, **kw})


def test_the_lowres_variant_shares_the_budget_and_differs_only_in_its_kd_resolution():
    args = _args()
    dakd, asn, cfg = dakd_cost.build_models(args)
    variants = dakd_cost.build_variants(args, cfg)
    (name, (model, vcfg)), = variants.items()
    assert name == 'dakd_all_lowres_synthdrive_day2fog'
    assert dakd_cost.adaptation(vcfg) == dakd_cost.adaptation(cfg)
    assert (dakd.distill_resolution, model.distill_resolution) == ('input', 'output')
    assert model.resolution == dakd.resolution == asn.resolution == 'input'


def test_a_variant_with_other_adaptation_settings_is_refused(tmp_path):
    other = tmp_path / 'dakd_lsgan.py'
    other.write_text("_base_ = ['{}']\nmodel = dict(gan='lsgan')\n".format(
        __import__('os').path.abspath('configs/dakd/dakd_all_synthdrive_day2fog.py')))
    args = _args(variants=[str(other)])
    _, _, cfg = dakd_cost.build_models(args)
    with pytest.raises(SystemExit, match='differ from configs/dakd/dakd_all_synthdrive_day2fog.py'):
        dakd_cost.build_variants(args, cfg)


def test_a_missing_or_non_dakd_variant_is_a_clear_error():
    args = _args(variants=['configs/dakd/nope.py'])
    _, _, cfg = dakd_cost.build_models(_args(variants=[]))
    with pytest.raises(SystemExit, match='configs/dakd/nope.py: no such config file'):
        dakd_cost.build_variants(args, cfg)
    with pytest.raises(SystemExit, match="is not a DAKD config \\(model.type='AdaptSegNet'\\)"):
        dakd_cost.build_variants(_args(variants=['configs/dakd/adaptsegnet_student_synthdrive_day2fog.py']), cfg)
