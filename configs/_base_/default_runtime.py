default_scope = 'jdbench'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo when there is no GPU
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Keeps weighting strategies (and gradient strategies in particular) correct under DDP.
# Scoped name: mmengine resolves the wrapper in its root registry, which only finds children by scope.
model_wrapper_cfg = dict(type='jdbench.JointDDP', find_unused_parameters=True)
custom_hooks = [
    dict(type='DataModelCheckHook'),  # class counts of data and heads agree
    dict(type='ExportStudentHook'),  # {work_dir}/final.pth: the deployable (student-only) weights
    dict(type='TrainingPlotHook'),  # loss curves (and omega) as PNGs in the work dir
]
