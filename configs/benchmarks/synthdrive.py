# The default SynthDrive suite (README's main job): data, both teachers, the single-task references, mtl,
# kd_static, kd4mtl and JointDistill, one seed, then the leaderboard. Budget: <= 15 min on 2 CPU cores on a
# fresh machine.
#
#   python tools/benchmark.py configs/benchmarks/synthdrive.py            # resumable: rerun to continue
#   python tools/benchmark.py configs/benchmarks/synthdrive.py --quick    # the `quick` overrides below
#   python tools/benchmark.py configs/benchmarks/synthdrive.py --cfg-options max_iters.student=300 seeds=[0,1]
#
# Sizes chosen so the whole suite ran in 10 min 09 s on 2 quiet CPU cores (docs/tools.md); the comparison
# reported in docs/benchmarks.md uses the larger synthdrive_full.py.
name = 'synthdrive'
out_dir = 'work_dirs/benchmarks/synthdrive'  # OUT/<method>/seed<k>/, OUT/leaderboard.*, OUT/suite.json
# Teachers are trained into {teacher_work_dir}/<config name>/ (skipped when final.pth exists there) and the
# distillers find them there. None: {out_dir}/teachers (the suite's data are smaller than the default data).
teacher_work_dir = None

# name -> config path, or dict(config=..., cfg_options=dict(...), max_iters=N [, role='method']).
teachers = dict(
    teacher_seg='configs/teachers/seg_synthdrive.py', teacher_depth='configs/teachers/depth_synthdrive.py')
methods = dict(
    stl_seg='configs/baselines/stl_seg_synthdrive.py',  # Δm references (see `references`)
    stl_depth='configs/baselines/stl_depth_synthdrive.py',
    mtl='configs/baselines/mtl_synthdrive.py',
    kd_static='configs/baselines/kd_static_synthdrive.py',
    kd4mtl='configs/baselines/kd4mtl_synthdrive.py',
    jointdistill='configs/jd_synthdrive.py')
seeds = [0]  # every method is trained once per seed (randomness.seed=k)
teacher_seed = 0

# Training length per role (teachers / everything else); the LR schedule is scaled to it (scale_schedule).
max_iters = dict(teacher=1000, student=500)  # teachers trained 2x as long: ahead of stl_* (teacher_margin)
val_interval = 200  # validation (and checkpoint) interval; the last iteration is always validated
checkpoint_interval = None  # None: val_interval (a resume restarts from the last checkpoint)
log_interval = 10  # the children's log interval, which is also how often progress is printed
scale_schedule = True

# Data: turned into --cfg-options for every dataset of a config (data_root, SynthDrive `generate`, pipeline
# resolution, batch size, workers). One data_root per data size: data rendered with other arguments would be
# reused (with a warning).
data = dict(
    data_root='data/synthdrive_suite_n400_64x128',
    num_train=400,
    num_val=40,
    size=(64, 128),  # (H, W): rendering size, resize scale and crop size
    batch_size=4,
    num_workers=0)
prepare_data = True  # render/check the data once before the first run
cfg_options = dict()  # any further overrides for every run, e.g. {'optim_wrapper.optimizer.lr': 1e-3}

# Metrics of a run: 'val' reuses the training run's final validation (no extra pass), 'test' runs
# tools/test.py.
evaluate = 'val'

# Δm reference sets: name -> models (a metric's reference is the first listed model that has it, seed mean).
# The first set is the leaderboard's "Δm" column, the others "Δm vs <name>".
references = dict(stl=['stl_seg', 'stl_depth'], teachers=['teacher_seg', 'teacher_depth'])
dm_metrics = ['mIoU', 'pixel_acc', 'abs_err', 'rel_err']

# Cost per model (tools/analyze_cost.py): FLOPs/latency at the data size, training step in a child process.
# Warm-ups are discarded: the first forwards/steps of a fresh process are much slower on CPU.
cost = dict(
    enabled=True,
    batch_size=1,  # latency batch size
    warmup=3,
    repeats=30,  # latencies of all models are timed interleaved, 30 rounds (cheap: a few seconds)
    train=True,  # training-step time and peak memory (child process)
    train_iters=2,
    train_warmup=3,
    device='cpu',
    input_size=None)  # None: the config's test resolution (here data.size)
# "The deployed student beside the references": ratios printed under the leaderboard.
cost_compare = dict(
    subject='jointdistill',
    groups=dict(teachers=['teacher_seg', 'teacher_depth'], stl=['stl_seg', 'stl_depth'], mtl=['mtl']))

# The leaderboard: leaderboard.{md,csv,json,png,html,txt} in out_dir. `chart`: (x, y) of the PNG: Δm (with the
# seed interval of its mean) against the training time per iteration (every method deploys the same student, so
# latency would only show noise); teachers and single-task references are marked. `paired`: methods every other
# method is compared with seed by seed (paired_<M>.md, and under the table which methods are separated from it by
# a Student-t interval at `level`).
leaderboard = dict(
    sort_by='delta_m',
    formats=['md', 'csv', 'json', 'png', 'html'],
    chart=('train_time', 'delta_m'),
    paired=['mtl'],
    level=0.95)
# The teacher check: warn in the leaderboard's footer when a teacher is not better than its single-task reference
# (teacher_seg vs stl_seg on the seg metrics of dm_metrics, teacher_depth vs stl_depth on the depth ones) by this
# fraction of the reference value on every metric, in its direction. None: no check.
teacher_margin = dict(relative=0.05)

# `--quick` (or configs/benchmarks/synthdrive_quick.py): a smoke run of the whole pipeline in a few minutes.
quick = dict(
    name='synthdrive_quick',
    out_dir='work_dirs/benchmarks/synthdrive_quick',
    max_iters=dict(teacher=20, student=20),
    val_interval=20,
    log_interval=5,
    data=dict(
        data_root='data/synthdrive_suite_n64_32x64', num_train=64, num_val=8, size=(32, 64), batch_size=2),
    cost=dict(warmup=3, repeats=10, train=False))
