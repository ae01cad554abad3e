# X-Distill on SynthDrive sequences: Monodepth2 (monodepth2_synthdrive_seq.py, same data, schedule and seed)
# plus the cross-task term: a small translator turns the predicted disparity into K=4 group logits and the
# frozen SynthDrive segmentation teacher, grouped, supervises them (docs/methods.md, 4.2-4.4).
#   python tools/train.py configs/teachers/seg_synthdrive.py                  # the teacher, once
#   python tools/train.py configs/xdistill/xdistill_synthdrive_seq.py
#       [--cfg-options model.teacher.checkpoint=work_dirs/seg_synthdrive/final.pth]
# final.pth holds the depth net alone (the same network, parameters and FLOPs as Monodepth2's).
_base_ = ['./monodepth2_synthdrive_seq.py']
model = dict(
    type='XDistill',
    # the frozen teacher: the existing SynthDrive segmentation teacher, trained on the SynthDrive images
    teacher=dict(
        type='Teacher', config='configs/teachers/seg_synthdrive.py', checkpoint='work_dirs/seg_synthdrive/final.pth'),
    teacher_name='seg',  # loss keys kd.seg.loss_xd, kd.seg.acc_xd
    teacher_mode='online',  # 'cached': one teacher forward per frame (and flip), kept in memory or cache_dir
    translator=dict(type='DisparityTranslator', in_scales=(0, ), channels=16, num_convs=3, dilations=(1, 2, 4),
                    stride=2, normalize='mean'),
    grouping='depth4',  # ground / structure / sky / objects (docs/methods.md, 4.3)
    xd_loss=dict(type='CrossTaskDistillLoss', mode='ce', loss_weight=0.1))
