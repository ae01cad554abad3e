"""Procedural value noise for surface textures: a fixed 256 × 256 lattice of random values (independent of
any sample seed), interpolated with a smoothstep; two-octave fractal noise comes from a pre-computed table so
it costs a single look-up."""
import numpy as np

_SIZE = 256
_LATTICE = np.random.default_rng(0x5D17E).random(_SIZE * _SIZE, dtype=np.float32)


def _padded(table: np.ndarray) -> np.ndarray:
    """A square table with its first row and column repeated at the end (a cell's corners never wrap)."""
    n = int(np.sqrt(table.size))
    return np.pad(table.reshape(n, n), ((0, 1), (0, 1)), mode='wrap').ravel()


def _lookup(padded: np.ndarray, size: int, u: np.ndarray, v: np.ndarray, smooth: bool) -> np.ndarray:
    """Interpolate a periodic ``size`` × ``size`` table (padded by :func:`_padded`) at ``(u, v)``, float32."""
    u = np.asarray(u, np.float32)
    v = np.asarray(v, np.float32)
    fu, fv = np.floor(u), np.floor(v)
    su, sv = u - fu, v - fv
    if smooth:
        su *= su * (3.0 - 2.0 * su)
        sv *= sv * (3.0 - 2.0 * sv)
    row = size + 1
    k = (fv.astype(np.int32) & (size - 1)) * row + (fu.astype(np.int32) & (size - 1))
    c00 = padded.take(k)
    c01 = padded.take(k + 1)
    k += row
    c10 = padded.take(k)
    c11 = padded.take(k + 1)
    top = c00 + su * (c01 - c00)
    top += sv * (c10 + su * (c11 - c10) - top)
    return top


_LATTICE_PADDED = _padded(_LATTICE)


def cell_hash(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value per integer lattice cell ``(i, j)`` (any equal shapes), float32."""
    i = np.asarray(i).astype(np.int32) & (_SIZE - 1)
    j = np.asarray(j).astype(np.int32) & (_SIZE - 1)
    return _LATTICE.take(j * _SIZE + i)


def value_noise(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth noise in [0, 1] at continuous coordinates ``(u, v)`` (period 256), float32."""
    return _lookup(_LATTICE_PADDED, _SIZE, u, v, smooth=True)


def _fbm_sum(u: np.ndarray, v: np.ndarray, octaves: int) -> np.ndarray:
    """Sum of ``octaves`` value-noise layers, each of twice the frequency and half the weight, in [0, 1]."""
    total, weight, norm = 0.0, 1.0, 0.0
    for k in range(octaves):
        total = total + weight * value_noise(u * 2.0 ** k + 17.0 * k, v * 2.0 ** k - 31.0 * k)
        norm += weight
        weight *= 0.5
    return total / norm


# Two octaves sampled every half lattice unit: exact at the samples, linear in between (period 256 in u, v).
_FBM_SIZE = 2 * _SIZE
_FBM_TABLE = _padded(_fbm_sum(*np.meshgrid(np.arange(_FBM_SIZE, dtype=np.float32) / 2,
                                           np.arange(_FBM_SIZE, dtype=np.float32) / 2), 2).ravel())


def fbm(u: np.ndarray, v: np.ndarray, octaves: int = 2) -> np.ndarray:
    """Fractal noise in [0, 1]: ``octaves`` layers of value noise (each twice the frequency, half the weight).
    Two octaves (the default) are read from a pre-computed table."""
    if octaves == 2:
        return _lookup(_FBM_TABLE, _FBM_SIZE, np.asarray(u, np.float32) * 2, np.asarray(v, np.float32) * 2,
                       smooth=False)
    return _fbm_sum(np.asarray(u, np.float32), np.asarray(v, np.float32), octaves)
