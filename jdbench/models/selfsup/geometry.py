"""Camera geometry of self-supervised depth: disparity -> depth, back-projection, projection, poses, warping.

Conventions (as Monodepth2): pixel ``(u, v)`` is the *centre* of column ``u`` and row ``v`` (0-based);
``K`` is the 4×4 intrinsics matrix in pixels of the image it is used with; camera axes x right, y down,
z forward. A pose ``T`` (B, 4, 4) maps points from the target camera into the source camera:
``X_src = T · X_tgt``.

Every function takes any batch size: the pixel grid is built per call (cached by size, device and dtype),
so no ``drop_last`` is needed (Monodepth2's layers are sized to one batch size).
"""
from functools import lru_cache
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-7


def disp_to_depth(disp: Tensor, min_depth: float, max_depth: float) -> Tuple[Tensor, Tensor]:
    """Sigmoid disparity σ ∈ [0, 1] -> (scaled disparity, depth).

    ``scaled = 1/max_depth + (1/min_depth − 1/max_depth)·σ`` and ``depth = 1/scaled``, so depth lies in
    ``[min_depth, max_depth]`` (Monodepth2's ``disp_to_depth``).
    """
    if not 0 < min_depth < max_depth:
        raise ValueError(f'need 0 < min_depth < max_depth, got min_depth={min_depth}, max_depth={max_depth}')
    min_disp, max_disp = 1. / max_depth, 1. / min_depth
    scaled = min_disp + (max_disp - min_disp) * disp
    return scaled, 1. / scaled


@lru_cache(maxsize=16)
def _grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    v, u = torch.meshgrid(torch.arange(height, device=device, dtype=dtype),
                          torch.arange(width, device=device, dtype=dtype), indexing='ij')
    return torch.stack([u.reshape(-1), v.reshape(-1), torch.ones_like(u).reshape(-1)])


def pixel_grid(height: int, width: int, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Homogeneous pixel coordinates (3, H·W): rows u (column), v (row), 1; row-major order of the pixels."""
    return _grid(int(height), int(width), torch.device(device or 'cpu'), dtype)


def _as_4x4(mat: Tensor, name: str) -> Tensor:
    if mat.dim() != 3 or mat.shape[1:] not in ((4, 4), (3, 3)):
        raise ValueError(f'{name} must be (B, 4, 4) or (B, 3, 3), got {tuple(mat.shape)}')
    if mat.shape[1] == 3:
        out = torch.eye(4, dtype=mat.dtype, device=mat.device).repeat(mat.shape[0], 1, 1)
        out[:, :3, :3] = mat
        return out
    return mat


def backproject(depth: Tensor, inv_K: Tensor) -> Tensor:
    """Depth (B, 1, H, W) and inverse intrinsics (B, 4, 4) -> homogeneous camera points (B, 4, H·W)."""
    if depth.dim() != 4 or depth.shape[1] != 1:
        raise ValueError(f'depth must be (B, 1, H, W), got {tuple(depth.shape)}')
    b, _, h, w = depth.shape
    inv_K = _as_4x4(inv_K, 'inv_K').to(depth)
    rays = inv_K[:, :3, :3] @ pixel_grid(h, w, depth.device, depth.dtype)    # (B, 3, N)
    points = rays * depth.reshape(b, 1, h * w)
    return torch.cat([points, torch.ones_like(points[:, :1])], dim=1)


def project(points: Tensor, K: Tensor, T: Tensor, eps: float = EPS) -> Tensor:
    """Homogeneous points (B, 4, N) of the target camera -> pixel coordinates (B, 2, N) in the camera
    ``K`` (B, 4, 4) after the pose ``T`` (B, 4, 4): ``π(K · T · X)``."""
    P = (_as_4x4(K, 'K').to(points) @ T.to(points))[:, :3]
    cam = P @ points
    return cam[:, :2] / (cam[:, 2:3] + eps)


def pixels_to_grid(pix: Tensor, height: int, width: int) -> Tensor:
    """Pixel coordinates (B, 2, H·W) -> a ``grid_sample`` grid (B, H, W, 2) for ``align_corners=True``
    (−1 and 1 are the centres of the corner pixels, so pixel centre ``u`` samples column ``u`` exactly)."""
    pix = pix.reshape(pix.shape[0], 2, height, width).permute(0, 2, 3, 1)
    scale = pix.new_tensor([max(width - 1, 1), max(height - 1, 1)])
    return pix / scale * 2 - 1


class BackprojectDepth(nn.Module):
    """Module form of :func:`backproject` (any batch size and image size)."""

    def forward(self, depth: Tensor, inv_K: Tensor) -> Tensor:
        return backproject(depth, inv_K)


class Project3D(nn.Module):
    """Module form of :func:`project` followed by :func:`pixels_to_grid`: points (B, 4, H·W) -> grid
    (B, H, W, 2) for ``F.grid_sample(..., align_corners=True)``."""

    def __init__(self, eps: float = EPS) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, points: Tensor, K: Tensor, T: Tensor, height: int, width: int) -> Tensor:
        return pixels_to_grid(project(points, K, T, self.eps), height, width)


def warp(source: Tensor, depth: Tensor, K: Tensor, inv_K: Tensor, T: Tensor,
         padding_mode: str = 'border') -> Tensor:
    """Sample the source image (B, C, H, W) at the projections of the target's pixels (the source seen from
    the target).

    ``depth`` (B, 1, H, W) is the target's depth, ``T`` the target -> source pose. Bilinear sampling with
    border padding (Monodepth2's choice) and ``align_corners=True`` (see :func:`pixels_to_grid`).
    """
    h, w = depth.shape[2:]
    grid = pixels_to_grid(project(backproject(depth, inv_K), K, T), h, w)
    return F.grid_sample(source, grid.to(source), mode='bilinear', padding_mode=padding_mode,
                         align_corners=True)


def _flat(vec: Tensor, name: str) -> Tensor:
    if vec.dim() == 3 and vec.shape[1] == 1:
        vec = vec[:, 0]
    if vec.dim() != 2 or vec.shape[1] != 3:
        raise ValueError(f'{name} must be (B, 3) or (B, 1, 3), got {tuple(vec.shape)}')
    return vec


def rot_from_axisangle(axisangle: Tensor) -> Tensor:
    """Axis-angle (B, 3) (direction = axis, norm = angle in radians) -> rotation matrix (B, 3, 3) by
    Rodrigues' formula ``R = cos θ·I + (1 − cos θ)·a aᵀ + sin θ·[a]×``."""
    axisangle = _flat(axisangle, 'axisangle')
    angle = torch.linalg.vector_norm(axisangle, dim=1, keepdim=True)             # (B, 1)
    axis = axisangle / (angle + EPS)
    cos, sin = torch.cos(angle)[..., None], torch.sin(angle)[..., None]          # (B, 1, 1)
    x, y, z = axis.unbind(1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=1).view(-1, 3, 3)
    eye = torch.eye(3, dtype=axisangle.dtype, device=axisangle.device)
    return cos * eye + (1 - cos) * axis[:, :, None] * axis[:, None, :] + sin * cross


def transformation_from_parameters(axisangle: Tensor, translation: Tensor, invert: bool = False) -> Tensor:
    """Axis-angle (B, 3) and translation (B, 3) (or (B, 1, 3)) -> the 4×4 transform ``[R | t]`` (B, 4, 4).

    ``invert=True`` gives its exact inverse ``[Rᵀ | −Rᵀ t]`` (Monodepth2 inverts the pose predicted for the
    pair (−1, 0) to get the 0 -> −1 transform).
    """
    R = rot_from_axisangle(axisangle)
    t = _flat(translation, 'translation').to(R)
    if invert:
        R = R.transpose(1, 2)
        t = -(R @ t[:, :, None])[:, :, 0]
    out = torch.zeros(R.shape[0], 4, 4, dtype=R.dtype, device=R.device)
    out[:, :3, :3] = R
    out[:, :3, 3] = t
    out[:, 3, 3] = 1
    return out
