# Weighting strategies on the distillation terms: kd_static (logit KD from both teachers) with its fixed ω = 1
# replaced by IMTL or MGDA on the kd.<teacher> objectives (balance='distill'); and IMTL on every objective (the
# two tasks and the two distillation terms, balance='all') for kd_static and for JointDistill without its feedback
# weights (IMTL takes their place). 2 seeds, the teachers of synthdrive_full.py.
#   python tools/benchmark.py configs/benchmarks/synthdrive_weighting_distill.py
_base_ = ['./synthdrive_full.py']
name = 'synthdrive_weighting_distill'
out_dir = 'work_dirs/benchmarks/synthdrive_weighting_distill'
teacher_work_dir = 'work_dirs/benchmarks/synthdrive_full/teachers'
methods = dict(
    _delete_=True,
    kd_static_imtl=dict(
        config='configs/baselines/kd_static_synthdrive.py',
        cfg_options={'model.weighting': dict(_delete_=True, type='IMTL', balance='distill')}),
    kd_static_mgda=dict(
        config='configs/baselines/kd_static_synthdrive.py',
        cfg_options={'model.weighting': dict(_delete_=True, type='MGDA', balance='distill')}),
    kd_static_imtl_all=dict(
        config='configs/baselines/kd_static_synthdrive.py',
        cfg_options={'model.weighting': dict(_delete_=True, type='IMTL', balance='all')}),
    jd_imtl_all=dict(
        config='configs/ablations/jd_no_feedback_synthdrive.py',
        cfg_options={'model.weighting': dict(_delete_=True, type='IMTL', balance='all')}))
seeds = [0, 1]
references = dict(_delete_=True)
cost = dict(enabled=False)
cost_compare = dict(_delete_=True)
# no Δm references in this folder alone (see tools/test.py --compare), so no paired comparison either
leaderboard = dict(sort_by='mIoU', paired=[])
