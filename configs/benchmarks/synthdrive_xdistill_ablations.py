# X-Distill ablations beside the comparison of synthdrive_xdistill.py (same output folder: its finished
# teacher, Monodepth2 and X-Distill runs are reused, not retrained): the translator's input scale, the number
# of groups K, CE vs KL, and the control whose translator sends no gradient into the depth net.
#   python tools/benchmark.py configs/benchmarks/synthdrive_xdistill_ablations.py [--methods xd_kl ...]
_base_ = ['./synthdrive_xdistill.py']
name = 'synthdrive_xdistill_ablations'
_ablations = 'configs/xdistill/ablations'
methods = dict(
    xd_scale1=f'{_ablations}/xdistill_scale1_synthdrive_seq.py',  # translator reads disparity scale 1
    xd_scales0123=f'{_ablations}/xdistill_scales0123_synthdrive_seq.py',  # scales 0-3
    xd_k3=f'{_ablations}/xdistill_k3_synthdrive_seq.py',  # K = 3 ('depth3')
    xd_k7=f'{_ablations}/xdistill_k7_synthdrive_seq.py',  # K = 7 ('category7')
    xd_k19=f'{_ablations}/xdistill_k19_synthdrive_seq.py',  # K = 19 (no grouping)
    xd_kl=f'{_ablations}/xdistill_kl_synthdrive_seq.py',  # KL to the grouped soft output
    xd_detach=f'{_ablations}/xdistill_detach_synthdrive_seq.py')  # control: no gradient into the depth net
