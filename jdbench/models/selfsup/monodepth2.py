"""Monodepth2 (Godard et al., ICCV 2019): self-supervised monocular depth from video, as an mmengine model."""
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..objectives import Objective
from .geometry import disp_to_depth, transformation_from_parameters, warp

INTERPOLATIONS = ('bilinear', 'nearest')


class SequenceBatch(NamedTuple):
    """A batch of frame sequences split out of the packed inputs.

    ``raw``/``aug``: frame id -> RGB [0, 1] images (B, 3, H, W) (``aug`` is ``raw`` without colour
    augmentation); ``K``: (B, 4, 4) intrinsics in pixels of the inputs (None when the samples give none).
    """
    frame_ids: Tuple[int, ...]
    raw: Dict[int, Tensor]
    aug: Dict[int, Tensor]
    K: Optional[Tensor]


def split_sequence(inputs: Tensor, data_samples: Optional[SampleList]) -> SequenceBatch:
    """Packed inputs (B, 3·F·A, H, W) -> :class:`SequenceBatch` (data contract of issue 12).

    The channels hold the F frames of ``metainfo['frame_ids']`` raw in that order, then (A = 2) the same
    frames colour-augmented. Inputs with 3 channels and no ``frame_ids`` are frame 0 alone (test time).
    """
    if inputs.dim() != 4 or inputs.shape[1] % 3:
        raise ValueError(f'inputs must be (B, 3·F·A, H, W), got {tuple(inputs.shape)}')
    metas = [s.metainfo for s in data_samples] if data_samples else []
    ids = [tuple(int(f) for f in m['frame_ids']) for m in metas if 'frame_ids' in m]
    if ids and any(i != ids[0] for i in ids):
        raise ValueError(f'the samples of a batch have different frame_ids: {sorted(set(ids))}')
    if ids and len(ids) != len(metas):
        raise ValueError('some samples of the batch have frame_ids in their metainfo and some do not')
    if ids:
        frame_ids = ids[0]
    elif inputs.shape[1] == 3:
        frame_ids = (0, )
    else:
        raise KeyError(f'inputs have {inputs.shape[1]} channels (several frames), but the data samples have '
                       "no 'frame_ids' in their metainfo; pack the sequence with PackSequenceInputs")
    if 0 not in frame_ids or len(set(frame_ids)) != len(frame_ids):
        raise ValueError(f'frame_ids must contain the target frame 0 once, got {frame_ids}')
    num = len(frame_ids)
    if inputs.shape[1] not in (3 * num, 6 * num):
        raise ValueError(f'inputs have {inputs.shape[1]} channels; frame_ids={frame_ids} needs {3 * num} '
                         f'(raw) or {6 * num} (raw + colour-augmented)')
    has_aug = inputs.shape[1] == 6 * num
    declared = {bool(m['has_aug']) for m in metas if 'has_aug' in m}
    if declared and declared != {has_aug}:
        raise ValueError(f'metainfo has_aug={sorted(declared)} but the inputs have {inputs.shape[1]} '
                         f'channels for {num} frames')
    frames = inputs.split(3, dim=1)
    raw = {f: frames[i] for i, f in enumerate(frame_ids)}
    aug = {f: frames[num + i] for i, f in enumerate(frame_ids)} if has_aug else raw
    K = None
    if metas and all('K' in m for m in metas):
        K = torch.stack([torch.as_tensor(m['K'], dtype=torch.float32) for m in metas]).to(inputs.device)
        if K.shape[1:] not in ((4, 4), (3, 3)):
            raise ValueError(f"metainfo 'K' must be a 4x4 (or 3x3) matrix, got {tuple(K.shape[1:])}")
        if K.shape[1] == 3:
            K4 = torch.eye(4, device=K.device).repeat(K.shape[0], 1, 1)
            K4[:, :3, :3] = K
            K = K4
    return SequenceBatch(frame_ids, raw, aug, K)


def source_frames(seq: SequenceBatch) -> List[int]:
    """The source frame ids (every frame but 0); a clear error when the sequence has a single frame."""
    sources = [f for f in seq.frame_ids if f != 0]
    if not sources:
        raise ValueError('the photometric loss needs at least one source frame besides the target; got a '
                         f'sequence with a single frame (frame_ids={seq.frame_ids}); train on frame '
                         'triplets, e.g. frame_ids=(0, -1, 1)')
    return sources


@MODELS.register_module()
class Monodepth2(BaseModel):
    """Self-supervised monocular depth from video (Monodepth2's monocular recipe).

    Training: the depth net predicts multi-scale sigmoid disparity for the (colour-augmented) target frame 0;
    the pose net predicts the motion from frame 0 to each source frame (pairs in temporal order; the pose of
    (f, 0) for f < 0 is inverted). Each scale's disparity is upsampled bilinearly to the input resolution,
    turned into depth (``disp_to_depth``), and every *raw* source frame is warped into the target. Loss terms:

    * ``depth.loss_photo``: the mean over scales of :class:`PhotometricLoss` (per-pixel minimum reprojection
      with auto-masking);
    * ``depth.loss_smooth``: the mean over scales of :class:`EdgeAwareSmoothnessLoss` (scale-s disparity,
      raw target frame resized to scale s by area averaging, weight 1e-3/2^s);
    * logged, not optimised: ``depth.automask`` (the auto-masked fraction of pixels at scale 0).

    Their sum is Monodepth2's loss. ``predict`` fills ``pred_depth_map`` (1, H0, W0) in metres at
    ``ori_shape``: the finest scaled disparity resized (bilinear by default, as Monodepth2's evaluation) and
    inverted. Only the depth net is deployed: :meth:`export_state_dict` is its ``state_dict``, and
    :attr:`student` (used by the checkpoint loader and the cost tools) is the depth net.

    Args:
        depth_net (dict): :class:`MonoDepthNet` config.
        pose_net (dict): :class:`PoseNet` config.
        photometric_loss (dict): :class:`PhotometricLoss` config.
        smoothness_loss (dict): :class:`EdgeAwareSmoothnessLoss` config.
        min_depth (float): Defaults to 0.1 (metres).
        max_depth (float): Defaults to 100.
        pose_input (str): frames given to the pose net, ``'aug'`` (colour-augmented, Monodepth2) or ``'raw'``.
        depth_input (str): frame 0 given to the depth net in training, ``'aug'`` (Monodepth2) or ``'raw'``.
        predict_interpolation (str): resizing of the disparity to ``ori_shape``: ``'bilinear'`` or
            ``'nearest'``.
        weighting (dict, optional): a ``WEIGHTINGS`` strategy over :meth:`objectives`; ``None`` sums the
            terms.
        data_preprocessor (dict, optional): defaults to ``SequenceDataPreProcessor`` (inputs (B, 3·F·A, H, W),
            RGB in [0, 1]; ``frame_ids``, ``K`` in the samples' metainfo).
    """

    def __init__(self,
                 depth_net: ConfigType,
                 pose_net: ConfigType,
                 photometric_loss: ConfigType = dict(type='PhotometricLoss'),
                 smoothness_loss: ConfigType = dict(type='EdgeAwareSmoothnessLoss'),
                 min_depth: float = 0.1,
                 max_depth: float = 100.0,
                 pose_input: str = 'aug',
                 depth_input: str = 'aug',
                 predict_interpolation: str = 'bilinear',
                 weighting: OptConfigType = None,
                 data_preprocessor: OptConfigType = dict(type='SequenceDataPreProcessor'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        for name, value in (('pose_input', pose_input), ('depth_input', depth_input)):
            if value not in ('aug', 'raw'):
                raise ValueError(f"{name} must be 'aug' or 'raw', got {value!r}")
        if predict_interpolation not in INTERPOLATIONS:
            raise ValueError(f'predict_interpolation must be one of {INTERPOLATIONS}, got '
                             f'{predict_interpolation!r}')
        disp_to_depth(torch.zeros(1), min_depth, max_depth)   # checks the range
        self.depth_net = MODELS.build(depth_net)
        self.pose_net = MODELS.build(pose_net)
        self.photometric_loss = MODELS.build(photometric_loss)
        self.smoothness_loss = MODELS.build(smoothness_loss)
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.pose_input, self.depth_input = pose_input, depth_input
        self.predict_interpolation = predict_interpolation
        self.weighting = None
        if weighting is not None:
            from jdbench.weighting import build_weighting
            self.weighting = build_weighting(weighting, objectives=self.objectives())

    # ----------------------------------------------------------------- what the weighted update asks for
    @property
    def student(self) -> nn.Module:
        """The deployed network (the depth net): what ``load_weights`` loads a depth-only export into and what
        the cost tools measure."""
        return self.depth_net

    def objectives(self) -> List[Objective]:
        """One ``'task'`` objective ``depth`` (keys ``depth.*``: the photometric and smoothness terms)."""
        return [Objective('depth', 'depth.', 'task', 'depth')]

    def shared_modules(self) -> List[nn.Module]:
        """The depth net (every term reaches it)."""
        return [self.depth_net]

    @property
    def shared_rep(self) -> None:
        """No shared representation is exposed (``rep_grad`` strategies are not supported)."""
        return None

    def export_state_dict(self) -> Dict[str, Tensor]:
        """The deployable result: the depth net's ``state_dict`` (keys of a plain :class:`MonoDepthNet`)."""
        return self.depth_net.state_dict()

    # ----------------------------------------------------------------- training
    def poses(self, seq: SequenceBatch) -> Dict[int, Tensor]:
        """Source frame id -> the (B, 4, 4) transform from the target camera to that frame's camera."""
        frames = seq.aug if self.pose_input == 'aug' else seq.raw
        out = {}
        for f in seq.frame_ids:
            if f == 0:
                continue
            pair = (frames[f], frames[0]) if f < 0 else (frames[0], frames[f])
            axisangle, translation = self.pose_net(*pair)
            out[f] = transformation_from_parameters(axisangle, translation, invert=f < 0)
        return out

    def selfsup_losses(self, seq: SequenceBatch, disps: List[Tensor],
                       poses: Dict[int, Tensor]) -> Dict[str, Tensor]:
        """The photometric and smoothness terms of one batch (see the class docstring)."""
        sources = source_frames(seq)
        if seq.K is None:
            raise KeyError("training needs the intrinsics: metainfo 'K' (4x4, pixels of the input) in every "
                           'data sample')
        target = seq.raw[0]
        h, w = target.shape[2:]
        K = seq.K.to(target)
        inv_K = torch.linalg.inv(K)
        photo, smooth, masked = [], [], None
        for scale, disp in zip(self.depth_net.scales, disps):
            up = F.interpolate(disp, size=(h, w), mode='bilinear', align_corners=False)
            _, depth = disp_to_depth(up, self.min_depth, self.max_depth)
            warped = [warp(seq.raw[f], depth, K, inv_K, poses[f]) for f in sources]
            per_pixel, selection = self.photometric_loss.reprojection_map(
                target, warped, [seq.raw[f] for f in sources])
            photo.append(self.photometric_loss.loss_weight * per_pixel.mean())
            if masked is None and selection is not None:
                masked = selection.float().mean().detach()
            color = target if disp.shape[2:] == target.shape[2:] else F.interpolate(
                target, size=disp.shape[2:], mode='area')
            smooth.append(self.smoothness_loss(disp, color, scale))
        losses = {f'depth.{self.photometric_loss.loss_name}': torch.stack(photo).mean(),
                  f'depth.{self.smoothness_loss.loss_name}': torch.stack(smooth).mean()}
        if masked is not None:
            losses['depth.automask'] = masked
        return losses

    def forward_train(self, inputs: Tensor, data_samples: SampleList
                      ) -> Tuple[SequenceBatch, List[Tensor], Dict[str, Tensor]]:
        """(the split batch, the disparities of every scale, the self-supervised loss terms)."""
        seq = split_sequence(inputs, data_samples)
        source_frames(seq)   # a clear error for a single frame, before any forward
        disps = self.depth_net(seq.aug[0] if self.depth_input == 'aug' else seq.raw[0])
        return seq, disps, self.selfsup_losses(seq, disps, self.poses(seq))

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        return self.forward_train(inputs, data_samples)[2]

    def train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """Pre-process, forward in ``loss`` mode, balance with ``self.weighting`` (if any) and step."""
        from jdbench.engine.optimizers import weighted_train_step
        return weighted_train_step(self, data, optim_wrapper)

    # ----------------------------------------------------------------- inference
    def forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], SampleList]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'invalid mode {mode!r}; use "loss", "predict" or "tensor"')

    def _forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> Dict[str, Tensor]:
        """``{'disp_<s>': sigmoid disparity (B, 1, H/2^s, W/2^s)}`` of frame 0 for every scale."""
        seq = split_sequence(inputs, data_samples)
        return {f'disp_{s}': d for s, d in zip(self.depth_net.scales, self.depth_net(seq.raw[0]))}

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """Fill ``pred_depth_map`` (PixelData (1, H0, W0), metres) of frame 0 at ``ori_shape`` in the samples.

        The prediction stays in the frame of the input: the sequence pipeline flips the ground truth together
        with the frames, so a flipped sample is not flipped back.
        """
        seq = split_sequence(inputs, data_samples)
        image = seq.raw[0]
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=image.shape[2:], ori_shape=image.shape[2:]))
                            for _ in range(image.shape[0])]
        scaled, _ = disp_to_depth(self.depth_net(image)[0], self.min_depth, self.max_depth)
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            h, w = scaled.shape[2:]
            s = scaled[i:i + 1]
            left, right, top, bottom = meta.get('img_padding_size', meta.get('padding_size', [0] * 4))
            if any((left, right, top, bottom)):
                hi, wi = image.shape[2:]   # padding is given in input pixels
                s = F.interpolate(s, size=(hi, wi), mode='bilinear', align_corners=False)
                s = s[:, :, top:hi - bottom, left:wi - right]
            size = tuple(int(v) for v in meta.get('ori_shape', (h, w))[:2])
            if tuple(s.shape[2:]) != size:
                kwargs = dict(align_corners=False) if self.predict_interpolation == 'bilinear' else {}
                s = F.interpolate(s, size=size, mode=self.predict_interpolation, **kwargs)
            sample.set_data({'pred_depth_map': PixelData(data=1. / s[0])})
        return data_samples
