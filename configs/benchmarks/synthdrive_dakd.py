# Domain Adaptive KD on SynthDrive day -> fog (issue 13; docs/methods.md section 5): the labelled source is day
# in city A (GTA5 layout), the unlabelled target fog in city B (Cityscapes layout: another layout, camera height
# and object densities). Two teachers (source-only, and adapted with AdaptSegNet: the one DAKD distils), then
# for 3 seeds the source-only student, the AdaptSegNet student, DAKD with each paradigm and with all of them
# (also with its distillation terms at the heads' resolution),
# and the oracle (the student trained on the target's labels), then the leaderboard: target mIoU, source mIoU,
# per-class IoU, the share of the source-only -> oracle gap each method closes, and the per-seed comparisons
# against the source-only and the AdaptSegNet students.
#
#   python tools/benchmark.py configs/benchmarks/synthdrive_dakd.py --dry-run   # the plan, nothing trained
#   python tools/benchmark.py configs/benchmarks/synthdrive_dakd.py             # resumable: rerun to continue
#   python tools/benchmark.py configs/benchmarks/synthdrive_dakd.py --quick     # a smoke run, a few minutes
#   python tools/test.py --compare work_dirs/benchmarks/synthdrive_dakd --paired adaptsegnet   # the board again
#
# Time: measured 50.5 min on 2 CPU cores for the 8 first methods, 6 min more for dakd_all_lowres; estimated about
# 55 min on 2 quiet CPU cores (docs/tools.md, "Domain Adaptive KD: the suite"; from the
# measured training steps: source-only 0.05 s, AdaptSegNet 0.17 s, DAKD 0.19-0.26 s per iteration): 2 teachers x
# 1000 iterations, 9 methods x 3 seeds x 500 iterations, a source evaluation per run, the cost of every model.
# A machine shared with other trainings is several times slower.
name = 'synthdrive_dakd'
out_dir = 'work_dirs/benchmarks/synthdrive_dakd'
teacher_work_dir = None  # OUT/teachers: the domains' data are this suite's own

_dakd = 'configs/dakd'
# The DAKD configs name the adapted teacher's config (model.teachers.seg.config): the suite trains it and points
# them at its final.pth. The source-only teacher is trained for comparison (its row on the board).
teachers = dict(
    teacher_source_only=f'{_dakd}/source_only_teacher_synthdrive_day2fog.py',
    teacher_adapted=f'{_dakd}/adaptsegnet_teacher_synthdrive_day2fog.py')
methods = dict(
    source_only=f'{_dakd}/source_only_student_synthdrive_day2fog.py',  # Δm reference, gap 0%, paired baseline
    adaptsegnet=f'{_dakd}/adaptsegnet_student_synthdrive_day2fog.py',  # the undistilled adapted student
    dakd_feature_source=f'{_dakd}/dakd_feature_source_synthdrive_day2fog.py',  # the four paradigms (a
    dakd_feature_target=f'{_dakd}/dakd_feature_target_synthdrive_day2fog.py',  # hypothesis, methods.md 5.4)
    dakd_output_source=f'{_dakd}/dakd_output_source_synthdrive_day2fog.py',
    dakd_output_target=f'{_dakd}/dakd_output_target_synthdrive_day2fog.py',
    dakd_all=f'{_dakd}/dakd_all_synthdrive_day2fog.py',  # every term of the official code
    # the same terms at the student heads' resolution: the variant within the per-iteration budget
    dakd_all_lowres=f'{_dakd}/dakd_all_lowres_synthdrive_day2fog.py',
    # the upper bound (gap 100%): trained on the target's labels, which no other method reads
    oracle=dict(config=f'{_dakd}/oracle_student_synthdrive_day2fog.py', role='reference'))
seeds = [0, 1, 2]  # same seed: same student initialisation and data order in every method
teacher_seed = 0

max_iters = dict(teacher=1000, student=500)  # the teachers twice as long: ahead of the students they teach
val_interval = 250
checkpoint_interval = None
log_interval = 10
scale_schedule = True

# Data: one block per domain stream (data_cfg_options: every dataset of a stream, whichever loader holds it,
# takes the top-level keys updated with its stream's; docs/tools.md). 400 + 40 images per domain at 64x128;
# batch 4 per stream (every iteration: 4 source and 4 target images).
data = dict(
    size=(64, 128),
    batch_size=4,
    num_workers=0,
    streams=dict(
        source=dict(
            data_root='data/synthdrive_suite_gta5_day_cityA_n400_64x128',
            num_train=400, num_val=40, seed=0, style='day', city='A'),
        target=dict(
            data_root='data/synthdrive_suite_fog_cityB_n400_64x128',
            num_train=400, num_val=40, seed=1, style='fog', city='B')))
prepare_data = True  # renders both domains (the first method's train, val and test datasets)
# The target's per-class IoU in every run's final validation (JointMetric's IoU.<class> keys).
cfg_options = {'val_evaluator.per_class': True, 'test_evaluator.per_class': True}

evaluate = 'val'  # the target metrics: the run's final validation (the target's val split)
# A second evaluation of every run's final weights on the source's val split: source_mIoU, source_pixel_acc.
extra_evaluations = dict(source=dict(dataloader='source_val_dataloader', evaluator='source_val_evaluator'))

# Δm: the relative target-mIoU gain over the source-only student (the paired comparisons' unit).
references = dict(source_only=['source_only'])
dm_metrics = ['mIoU']
# The share of the source-only -> oracle gap each method closes (printed under the leaderboard).
gap = dict(low='source_only', high='oracle', metric='mIoU')

cost = dict(
    enabled=True,
    input_size=(64, 128),
    batch_size=1,
    warmup=3,
    repeats=30,
    train=True,  # the training step on synthetic batches (one per stream for the adaptation models)
    train_iters=2,
    train_warmup=3,
    device='cpu')
# Every student deploys the same network: the line says so.
cost_compare = dict(subject='dakd_all', groups=dict(teacher=['teacher_adapted'], adaptsegnet=['adaptsegnet']))

leaderboard = dict(
    sort_by='mIoU',
    formats=['md', 'csv', 'json', 'png', 'html'],
    chart=('train_time', 'delta_m'),
    paired=['source_only', 'adaptsegnet'],
    level=0.95,
    metrics=['mIoU', 'pixel_acc', 'source_mIoU', 'source_pixel_acc'])  # target first, then source
# The teacher check compares teachers with single-task references; here the references are students.
teacher_margin = None

quick = dict(
    name='synthdrive_dakd_quick',
    out_dir='work_dirs/benchmarks/synthdrive_dakd_quick',
    seeds=[0],
    max_iters=dict(teacher=20, student=20),
    val_interval=20,
    log_interval=5,
    data=dict(
        size=(32, 64),
        batch_size=2,
        streams=dict(
            source=dict(data_root='data/synthdrive_suite_gta5_day_cityA_n32_32x64', num_train=32, num_val=8),
            target=dict(data_root='data/synthdrive_suite_fog_cityB_n32_32x64', num_train=32, num_val=8))),
    cost=dict(input_size=(32, 64), warmup=3, repeats=10, train=False))
