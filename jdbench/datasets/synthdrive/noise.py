"""Procedural value noise for surface textures: a fixed 256 × 256 lattice of random values (independent of
any sample seed), bilinearly interpolated with a smoothstep and summed over octaves."""
import numpy as np

_SIZE = 256
_LATTICE = np.random.default_rng(0x5D17E).random(_SIZE * _SIZE, dtype=np.float32)
# The lattice with its first row and column repeated at the end, so a cell's 4 corners need no wrapping.
_ROW = _SIZE + 1
_PADDED = np.pad(_LATTICE.reshape(_SIZE, _SIZE), ((0, 1), (0, 1)), mode='wrap').ravel()


def cell_hash(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value per integer lattice cell ``(i, j)`` (any equal shapes), float32."""
    i = np.asarray(i).astype(np.int32) & (_SIZE - 1)
    j = np.asarray(j).astype(np.int32) & (_SIZE - 1)
    return _LATTICE.take(j * _SIZE + i)


def value_noise(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth noise in [0, 1] at continuous coordinates ``(u, v)`` (period 256), float32."""
    u = np.asarray(u, np.float32)
    v = np.asarray(v, np.float32)
    fu, fv = np.floor(u), np.floor(v)
    su, sv = u - fu, v - fv
    su *= su * (3.0 - 2.0 * su)
    sv *= sv * (3.0 - 2.0 * sv)
    k = (fv.astype(np.int32) & (_SIZE - 1)) * _ROW + (fu.astype(np.int32) & (_SIZE - 1))
    c00 = _PADDED.take(k)
    c01 = _PADDED.take(k + 1)
    k += _ROW
    c10 = _PADDED.take(k)
    c11 = _PADDED.take(k + 1)
    top = c00 + su * (c01 - c00)
    top += sv * (c10 + su * (c11 - c10) - top)
    return top


def fbm(u: np.ndarray, v: np.ndarray, octaves: int = 2) -> np.ndarray:
    """Fractal sum of ``octaves`` noise layers (each twice the frequency, half the weight), in [0, 1]."""
    total, weight, norm = 0.0, 1.0, 0.0
    u = np.asarray(u, np.float32)
    v = np.asarray(v, np.float32)
    for k in range(octaves):
        total = total + weight * value_noise(u + 17.3 * k, v - 31.7 * k)
        norm += weight
        weight *= 0.5
        u, v = u * 2.03, v * 2.03
    return total / norm
