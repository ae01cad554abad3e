# The ground-truth-only joint student on SynthDrive under each weighting strategy (same data, schedule and
# evaluation as synthdrive_full.py; 2 seeds). Fixed (= EW at weight 1) and Feedback (JointDistill's, driven
# by its hook) are compared in synthdrive_full.py, whose single-task runs are the Δm references:
#   python tools/benchmark.py configs/benchmarks/synthdrive_weighting.py
#   python tools/test.py --compare work_dirs/benchmarks/synthdrive_full work_dirs/benchmarks/synthdrive_weighting \
#       --reference stl=stl_seg,stl_depth
_base_ = ['./synthdrive_full.py']
name = 'synthdrive_weighting'
out_dir = 'work_dirs/benchmarks/synthdrive_weighting'
teachers = dict(_delete_=True)
methods = dict(
    _delete_=True,
    mtl_ew=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'EW'}),
    mtl_uw=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'UW'}),
    mtl_dwa=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'DWA'}),
    mtl_rlw=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'RLW'}),
    mtl_famo=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'FAMO'}),
    mtl_gradnorm=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'GradNorm'}),
    mtl_mgda=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'MGDA'}),
    mtl_pcgrad=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'PCGrad'}),
    mtl_cagrad=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'CAGrad'}),
    mtl_imtl=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'IMTL'}),
    mtl_gradvac=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'GradVac'}),
    mtl_nashmtl=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'NashMTL'}),
    mtl_alignedmtl=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'AlignedMTL'}),
    mtl_dbmtl=dict(config='configs/baselines/mtl_synthdrive.py', cfg_options={'model.weighting.type': 'DBMTL'}),
)
seeds = [0, 1]
references = dict(_delete_=True)
cost = dict(enabled=False)
cost_compare = dict(_delete_=True)
# no Δm references in this folder alone (see tools/test.py --compare), so no paired comparison either
leaderboard = dict(sort_by='mIoU', paired=[])
