"""KITTI raw split tools: the ground-truth cache (Monodepth2's ``export_gt_depth.py``) and a split filter.

Ground-truth cache (one depth map per split line, for ``KITTIRawDataset(gt='cache')``)::

    python tools/dataset_converters/kitti_gt.py data/kitti splits/eigen/test_files.txt
    python tools/dataset_converters/kitti_gt.py data/kitti splits/eigen_benchmark/test_files.txt \
        --gt annotated --annotated-root data/kitti_depth

writes ``<split dir>/gt_depths.npz``: key ``data`` = a 1-D object array of float32 ``h×w`` maps in metres
(0 = invalid; sizes differ by date, so the array is ragged and stored as objects), key ``lines`` = the split
lines. Load it with ``np.load(path, allow_pickle=True)['data']`` (or
``jdbench.datasets.kitti_utils.load_gt_cache``).
``--gt velodyne`` projects each velodyne scan with the date's calibration (the velodyne x distance, as
Monodepth2's eigen export); ``--gt annotated`` reads the annotated-depth PNGs (``eigen_benchmark``); the
default picks ``annotated`` for splits whose folder name contains ``benchmark``.

Split filter (drop lines whose neighbour frames do not exist, e.g. the first and last frame of a drive)::

    python tools/dataset_converters/kitti_gt.py data/kitti splits/mine/train_files.txt --filter-frames -1 1 \
        --out data/kitti/splits/mine/train_files_filtered.txt
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import List, Optional, Sequence

from mmengine.utils import ProgressBar

from jdbench.datasets.kitti import KITTIRawDataset, filter_split_lines
from jdbench.datasets.kitti_utils import GT_CACHE_NAME, load_gt_depth, save_gt_cache


def default_gt(split_file: str) -> str:
    """``'annotated'`` for a split folder named like ``eigen_benchmark``, else ``'velodyne'``."""
    return 'annotated' if 'benchmark' in osp.basename(osp.dirname(osp.abspath(split_file))) else 'velodyne'


def export_gt(data_root: str, split_file: str, gt: Optional[str] = None, out: Optional[str] = None,
              annotated_root: Optional[str] = None, velodyne_depth: str = 'x', img_suffix: str = '.png',
              overwrite: bool = False, progress: bool = True) -> str:
    """Write the ground-truth cache of ``split_file`` (relative to ``data_root`` or absolute); returns its
    path.

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is False (nothing is written).
    """
    split_path = osp.abspath(split_file if osp.isabs(split_file) else osp.join(data_root, split_file))
    out = out or osp.join(osp.dirname(split_path), GT_CACHE_NAME)
    if osp.exists(out) and not overwrite:
        raise FileExistsError(f'{out} already exists; pass --overwrite to replace it (or --out another '
                              'file). Nothing was written.')
    gt = gt or default_gt(split_path)
    dataset = KITTIRawDataset(split_file=split_path, data_root=data_root, frame_ids=(0, ), gt=gt,
                              intrinsics='monodepth2', annotated_root=annotated_root,
                              velodyne_depth=velodyne_depth, img_suffix=img_suffix, test_mode=True)
    maps, lines = [], []
    bar = ProgressBar(len(dataset), file=sys.stdout) if progress else None
    start = time.perf_counter()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        maps.append(load_gt_depth(info, dataset.backend_args))
        lines.append(info['split_line'])
        if bar is not None:
            bar.update()
    save_gt_cache(out, maps, lines)
    sizes = sorted({m.shape for m in maps})
    print(f'\n{len(maps)} ground-truth maps ({gt}, sizes {sizes}) written to {out} in '
          f'{time.perf_counter() - start:.1f} s.')
    return out


def write_filtered_split(data_root: str, split_file: str, frame_ids: Sequence[int], out: str,
                         img_suffix: str = '.png', overwrite: bool = False) -> List[str]:
    """Write the lines of ``split_file`` whose frames ``frame + frame_ids`` exist to ``out``; returns them."""
    if osp.exists(out) and not overwrite:
        raise FileExistsError(f'{out} already exists; pass --overwrite to replace it. Nothing was written.')
    offsets = sorted({0, *frame_ids})
    kept, dropped = filter_split_lines(data_root, split_file, offsets, img_suffix)
    if not kept:
        raise ValueError(f'no line of {split_file} has all frames {offsets}; nothing was written.')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        f.write('\n'.join(kept) + '\n')
    os.replace(tmp, out)
    shown = ', '.join(f'{n}' for n, _ in dropped[:10]) + (' ...' if len(dropped) > 10 else '')
    print(f'{len(kept)} lines kept, {len(dropped)} dropped (frames {offsets} not all present'
          f'{"; lines " + shown if dropped else ""}); written to {out}.')
    return kept


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(
        description='KITTI raw: ground-truth cache (gt_depths.npz) or split filter.')
    parser.add_argument('data_root', help='the KITTI raw root (with the <date>/ folders)')
    parser.add_argument('split_file', help='a Monodepth2 split file, relative to data_root or absolute')
    parser.add_argument('--gt', choices=('velodyne', 'annotated'), default=None,
                        help='ground-truth source (default: annotated for *benchmark* splits, else velodyne)')
    parser.add_argument('--annotated-root', default=None,
                        help='the data_depth_annotated tree ({train,val}/<drive>/proj_depth/...); '
                        'default: proj_depth inside each drive folder')
    parser.add_argument('--velodyne-depth', choices=('x', 'z'), default='x',
                        help='x: velodyne forward distance (Monodepth2 eigen); z: camera z')
    parser.add_argument('--img-suffix', default='.png',
                        help=".png (download) or .jpg (Monodepth2's conversion)")
    parser.add_argument('--filter-frames', type=int, nargs='+', default=None, metavar='OFFSET',
                        help='instead of the cache: write the split lines whose frames at these offsets '
                        'exist (e.g. -1 1) to --out')
    parser.add_argument('--out', default=None, help='output file (cache default: <split dir>/gt_depths.npz)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run; print what is wrong with the inputs and return 1 on bad input."""
    args = parse_args(argv)
    try:
        if args.filter_frames is not None:
            if args.out is None:
                print('error: --filter-frames needs --out (the filtered split file)', file=sys.stderr)
                return 1
            write_filtered_split(args.data_root, args.split_file, args.filter_frames, args.out,
                                 args.img_suffix, args.overwrite)
        else:
            export_gt(args.data_root, args.split_file, args.gt, args.out, args.annotated_root,
                      args.velodyne_depth, args.img_suffix, args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
