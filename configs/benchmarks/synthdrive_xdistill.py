# X-Distill on SynthDrive sequences (issue 12): the segmentation teacher, Monodepth2 and X-Distill for 3 seeds,
# then the leaderboard with the median-scaled depth metrics and the per-seed comparison with Monodepth2.
#
#   python tools/benchmark.py configs/benchmarks/synthdrive_xdistill.py --dry-run   # the plan, nothing trained
#   python tools/benchmark.py configs/benchmarks/synthdrive_xdistill.py            # resumable: rerun to continue
#   python tools/benchmark.py configs/benchmarks/synthdrive_xdistill.py --quick    # a smoke run, a few minutes
#
# Two kinds of data: the teacher trains on the SynthDrive images (Cityscapes layout; `data`, the same block as
# the default suite's), Monodepth2 and X-Distill on SynthDrive sequences (KITTI raw layout; `data.sequences`).
# data_cfg_options gives each dataset of a config the block of its kind (docs/tools.md, "X-Distill").
name = 'synthdrive_xdistill'
out_dir = 'work_dirs/benchmarks/synthdrive_xdistill'
# The seg teacher is shared with the default suite (configs/benchmarks/synthdrive.py): same config, data,
# iterations and intervals, so whichever suite runs first trains it and the other reuses it. None would train
# it again into OUT/teachers.
teacher_work_dir = 'work_dirs/benchmarks/synthdrive/teachers'

teachers = dict(teacher_seg='configs/teachers/seg_synthdrive.py')
methods = dict(
    monodepth2='configs/xdistill/monodepth2_synthdrive_seq.py',  # the Δm reference and the paired baseline
    xdistill='configs/xdistill/xdistill_synthdrive_seq.py')
seeds = [0, 1, 2]  # same seed: same depth/pose initialisation and data order in both methods
teacher_seed = 0

max_iters = dict(teacher=1000, student=600)  # the teacher's: the default suite's (shared run)
val_interval = 200
checkpoint_interval = None
log_interval = 10
scale_schedule = True

data = dict(
    # the teacher's SynthDrive images: exactly the default suite's block (the teacher run is shared)
    data_root='data/synthdrive_suite_n400_64x128',
    num_train=400,
    num_val=40,
    size=(64, 128),
    batch_size=4,
    num_workers=0,
    # the sequences of Monodepth2 and X-Distill: 24 drives x 20 frames at 64x224 (KITTI's focal length per
    # width, multiples of 32), 21 train drives (378 triplets), 3 test drives (60 frames), no val drives
    sequences=dict(
        data_root='data/synthdrive_seq_suite_s24x20_64x224',
        num_sequences=24,
        num_frames=20,
        size=(64, 224),
        num_val=0,
        num_test=3,
        batch_size=4))
prepare_data = True  # renders the sequences (the first method's data); the teacher run renders its own
cfg_options = dict()

evaluate = 'val'  # the final validation = the test drives (configs/_base_/datasets/synthdrive_seq.py)

# Δm against Monodepth2 on the four error metrics (median-scaled, per image); δ1-3 are shown, not averaged.
references = dict(monodepth2=['monodepth2'])
dm_metrics = ['abs_rel', 'sq_rel', 'rmse', 'rmse_log']

cost = dict(
    enabled=True,
    input_size=(64, 224),  # every model (the teacher too) measured at the sequences' size
    batch_size=1,
    warmup=3,
    repeats=30,
    train=True,  # the training step on a synthetic frame-triplet batch (teacher: an image batch)
    train_iters=2,
    train_warmup=3,
    device='cpu')
# The deployed networks are identical (same depth net): the ratio line says so.
cost_compare = dict(subject='xdistill', groups=dict(monodepth2=['monodepth2']))

leaderboard = dict(
    sort_by='delta_m',
    formats=['md', 'csv', 'json', 'png', 'html'],
    chart=('train_time', 'delta_m'),
    paired=['monodepth2'],
    level=0.95,
    # the teacher's mIoU, then the depth metrics of the KITTI protocol (Monodepth2's table)
    metrics=['mIoU', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'd1', 'd2', 'd3'])
# No single-task segmentation reference in this suite: the teacher check has nothing to compare with.
teacher_margin = None

quick = dict(
    name='synthdrive_xdistill_quick',
    out_dir='work_dirs/benchmarks/synthdrive_xdistill_quick',
    teacher_work_dir=None,  # OUT/teachers: the quick teacher must not replace the shared one
    seeds=[0, 1],
    max_iters=dict(teacher=20, student=20),
    val_interval=20,
    log_interval=5,
    data=dict(
        data_root='data/synthdrive_suite_n64_32x64', num_train=64, num_val=8, size=(32, 64), batch_size=2,
        sequences=dict(data_root='data/synthdrive_seq_suite_s4x6_64x128', num_sequences=4, num_frames=6,
                       size=(64, 128), num_val=0, num_test=1, batch_size=2)),
    cost=dict(input_size=(64, 128), warmup=3, repeats=10, train=False))
