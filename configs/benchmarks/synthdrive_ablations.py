# JointDistill ablations (without feedback weights, without trajectory, without connector) and the 'gap' reading
# of the feedback target, beside the full comparison: same output folder, so the finished runs of
# synthdrive_full.py are reused, not retrained.
#   python tools/benchmark.py configs/benchmarks/synthdrive_ablations.py
_base_ = ['./synthdrive_full.py']
name = 'synthdrive_ablations'
seeds = [0, 1, 2]  # the ablations and the cheaper variants: 3 seeds
methods = dict(
    jd_no_feedback='configs/ablations/jd_no_feedback_synthdrive.py',
    jd_no_trajectory='configs/ablations/jd_no_trajectory_synthdrive.py',
    jd_no_connector='configs/ablations/jd_no_connector_synthdrive.py',
    jd_gap='configs/ablations/jd_gap_synthdrive.py')
# The cheaper variants for the per-iteration budget (issue 10; docs/benchmarks.md, section 5).
methods.update(
    jd_stride8='configs/ablations/jd_stride8_synthdrive.py',
    jd_stride8_fused_loss='configs/ablations/jd_stride8_fused_loss_synthdrive.py',
    jd_stride8_fused_seg_loss='configs/ablations/jd_stride8_fused_seg_loss_synthdrive.py',
    kd4mtl_stride8='configs/ablations/kd4mtl_stride8_synthdrive.py')
