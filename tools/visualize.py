"""Draw predictions: image | GT seg | pred seg | GT depth | pred depth | depth error, one PNG per sample.

    python tools/visualize.py CONFIG CHECKPOINT [--num 8] [--out DIR] [--split test] [--start 0]
                              [--depth-max 80] [--cfg-options ...]

Segmentation uses the dataset palette, depth the ``turbo_r`` colour map (near red, far blue; one scale for
GT and prediction), the error map ``inferno``; grey = no ground truth. The checkpoint may be a full model or
the student-only ``final.pth`` of a distiller run.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from jdbench.utils.runner_utils import DictAction  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw jdbench predictions as PNG panels')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint (full model or student-only final.pth)')
    parser.add_argument('--num', type=int, default=8, help='number of samples')
    parser.add_argument('--start', type=int, default=0, help='index of the first sample')
    parser.add_argument('--out', default='work_dirs/vis', help='output folder')
    parser.add_argument(
        '--split', choices=['test', 'val', 'train'], default='test', help='which dataloader\'s data')
    parser.add_argument(
        '--depth-max',
        type=float,
        help='top of the depth colour scale in metres (default: per '
        'image, the 99th percentile of the GT)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def _plane(sample, key: str):
    field = sample.get(key)
    return None if field is None else field.data.squeeze(0).cpu().numpy()


def main() -> int:
    args = parse_args()
    import mmcv
    import torch
    from mmengine.dataset import pseudo_collate

    from jdbench.benchmark.config_utils import build_model, load_model_config
    from jdbench.registry import DATASETS
    from jdbench.utils import load_weights
    from jdbench.visualization import make_panel, save_panel
    try:
        cfg = load_model_config(args.config, args.cfg_options)
        model = build_model(cfg)
        load_weights(model, args.checkpoint)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    model = model.to(args.device).eval()
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        print(f'error: {args.config} has no {args.split}_dataloader', file=sys.stderr)
        return 2
    dataset = DATASETS.build(loader['dataset'])
    meta = dataset.metainfo
    palette, ignore = meta.get('palette'), int(cfg.get('test_evaluator', {}).get('ignore_index', 255))
    os.makedirs(args.out, exist_ok=True)
    stop = min(len(dataset), args.start + args.num)
    for i in range(args.start, stop):
        item = dataset[i]
        with torch.no_grad():
            sample = model.test_step(pseudo_collate([item]))[0]
        img_path = sample.metainfo.get('img_path')
        image = original_image(img_path, item)
        panel = make_panel(image, _plane(sample, 'gt_sem_seg'), _plane(sample, 'pred_sem_seg'),
                           _plane(sample, 'gt_depth_map'), _plane(sample, 'pred_depth_map'), palette, ignore,
                           args.depth_max)
        name = osp.splitext(osp.basename(img_path))[0] if img_path else f'sample{i}'
        path = save_panel(panel, osp.join(args.out, f'{i:04d}_{name}.png'))
        print(f'[{i - args.start + 1}/{stop - args.start}] {path} ({panel.shape[1]}x{panel.shape[0]})')
    return 0


def original_image(img_path, item) -> 'np.ndarray':
    """The original image as RGB uint8 (predictions and GT are at its size): a picture file, an MTAN-release
    ``.npy`` array, or, without a path, the network input (BGR)."""
    if not img_path:
        return item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
    if img_path.endswith('.npy'):
        from jdbench.datasets.transforms.arrays import LoadNpyImage
        return LoadNpyImage()(dict(img_path=img_path))['img'][..., ::-1]
    import mmcv
    return mmcv.imread(img_path, channel_order='rgb')


if __name__ == '__main__':
    sys.exit(main())
