# BDD100K -> Cityscapes domain adaptation (real -> real; the direction DAKD's loaders suggest, see
# ../shared/research/wave2.md §C.1): labelled source BDD100K 10K (7000 train / 1000 val), unlabelled target
# Cityscapes, 19 Cityscapes train-ID classes. Data (docs/datasets.md, "GTA5 and BDD100K"):
#   data/bdd100k in either release layout (found automatically): images/10k/{train,val}/*.jpg +
#   labels/sem_seg/masks/{train,val}/*.png, or the legacy seg/images/{train,val}/*.jpg +
#   seg/labels/{train,val}/*_train_id.png;
#   data/cityscapes in the layout of configs/_base_/datasets/cityscapes.py.
# train_dataloader yields {'source': ..., 'target': ...} items (MultiStreamDataset); val/test run on
# Cityscapes val; source_val_dataloader evaluates on BDD100K val. BDD100K images (1280x720) are resized as
# GTA5 in AdaptSegNet's recipe; Cityscapes to 1024x512 (scored at full resolution).
source_root = 'data/bdd100k'
target_root = 'data/cityscapes'
bdd_layout = 'auto'  # 'sem_seg', 'legacy' or 'auto'
source_scale = (1280, 720)  # (W, H)
target_scale = (1024, 512)  # (W, H)

source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadBDD100KAnnotations'),
    dict(type='Resize', scale=source_scale, keep_ratio=False),
    dict(type='PackSegInputs'),
]
# Target labels are loaded (never read in training: nothing here looks at them).
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadJointAnnotations', with_depth=False),
    dict(type='Resize', scale=target_scale, keep_ratio=False),
    dict(type='PackSegInputs'),
]
source_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=source_scale, keep_ratio=False),
    dict(type='LoadBDD100KAnnotations'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=target_scale, keep_ratio=False),
    dict(type='LoadJointAnnotations', with_depth=False),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='MultiStreamDataset',
        streams=dict(
            source=dict(
                type='BDD100KDataset', data_root=source_root, split='train', layout=bdd_layout,
                pipeline=source_train_pipeline),
            target=dict(
                type='CityscapesJointDataset', data_root=target_root, split='train',
                pipeline=target_train_pipeline)),
        seed=0,
        check_classes=True))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CityscapesJointDataset', data_root=target_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
source_val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BDD100KDataset', data_root=source_root, split='val', layout=bdd_layout,
        pipeline=source_test_pipeline))

val_evaluator = dict(type='JointMetric')
test_evaluator = val_evaluator
source_val_evaluator = val_evaluator
