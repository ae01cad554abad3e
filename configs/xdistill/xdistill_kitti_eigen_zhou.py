# X-Distill on KITTI raw: Monodepth2's recipe (monodepth2_kitti_eigen_zhou.py) plus the cross-task term from a
# frozen Cityscapes segmentation teacher (19 train-ID classes, grouped into K=4 groups; docs/methods.md, 4).
#   python tools/train.py configs/xdistill/xdistill_kitti_eigen_zhou.py \
#       --cfg-options model.teacher.checkpoint=<the teacher's weights>
# A user provides, besides the KITTI data of monodepth2_kitti_eigen_zhou.py, a Cityscapes segmentation teacher:
#   - jdbench's own: `python tools/train.py configs/teachers/seg_cityscapes.py` (needs Cityscapes,
#     docs/datasets.md) writes work_dirs/seg_cityscapes/final.pth, the checkpoint named below; or
#   - any mmseg Cityscapes segmenter: model.teacher.config=<its mmseg config .py> and
#     model.teacher.checkpoint=<its .pth> (the 19 classes in Cityscapes train-ID order; another class list needs
#     model.classes and a grouping over those names).
# The teacher sees the loaded 640x192 frames (RGB in [0, 1], mapped to its own normalisation).
_base_ = ['./monodepth2_kitti_eigen_zhou.py']
model = dict(
    type='XDistill',
    teacher=dict(
        type='Teacher', config='configs/teachers/seg_cityscapes.py', checkpoint='work_dirs/seg_cityscapes/final.pth'),
    teacher_name='seg',
    # 40k frames x 20 epochs: one teacher forward per frame (and flip) is enough. The labels are kept as .npy
    # files (uint8) in cache_dir and reused by later runs: delete the folder when the teacher changes.
    teacher_mode='cached',
    cache_dir='work_dirs/xdistill_kitti_eigen_zhou/teacher_labels',
    translator=dict(type='DisparityTranslator', in_scales=(0, ), channels=16, num_convs=3, dilations=(1, 2, 4),
                    stride=2, normalize='mean'),
    grouping='depth4',
    xd_loss=dict(type='CrossTaskDistillLoss', mode='ce', loss_weight=0.1))
