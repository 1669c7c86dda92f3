"""A constant-velocity Kalman filter over boxes, batched across tracks (numpy only).

State per track: ``(cx, cy, w, h, vcx, vcy, vw, vh)`` in pixels and pixels per frame; the
measurement is ``(cx, cy, w, h)``. Width and height are filtered directly (as BoT-SORT does)
rather than aspect ratio and height (SORT, ByteTrack), so a box's width never depends on a
ratio estimate that is noisy for thin objects.

Process and measurement noise are proportional to the box size, the choice of the SORT /
DeepSORT / ByteTrack lineage: a pixel of jitter means much more for a 10-px box than for a
300-px one, so one set of weights serves near and far objects alike.

Every function takes arrays of all tracks at once, ``mean [T, 8]`` and ``cov [T, 8, 8]``, so the
per-frame cost is a few numpy calls whatever the number of tracks.

References:
    R. E. Kalman, "A New Approach to Linear Filtering and Prediction Problems",
    Trans. ASME J. Basic Engineering 82(1), 1960.
    Y. Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box",
    ECCV 2022 (arXiv:2110.06864).
    N. Aharon et al., "BoT-SORT: Robust Associations Multi-Pedestrian Tracking", arXiv:2206.14651.
"""

from __future__ import annotations

import numpy as np

#: 0.95 quantiles of the chi-square distribution by degrees of freedom: a squared Mahalanobis
#: distance above CHI2_95[4] has a 5 % chance of being the track's own measurement.
CHI2_95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877}

#: smallest width/height kept in the state: a shrinking velocity must not drive a box through
#: zero, where the size-scaled noise would vanish and the covariance become singular
MIN_SIZE = 1e-3


def xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    """``[N, 4]`` corner boxes to ``[N, 4]`` centre/size boxes."""
    b = np.asarray(boxes, dtype=np.float64)
    wh = b[:, 2:4] - b[:, 0:2]
    return np.concatenate([b[:, 0:2] + 0.5 * wh, wh], axis=1)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``[N, >=4]`` centre/size (e.g. a state array) to ``[N, 4]`` corner boxes."""
    c, half = boxes[:, 0:2], 0.5 * np.maximum(boxes[:, 2:4], MIN_SIZE)
    return np.concatenate([c - half, c + half], axis=1)


class KalmanBoxFilter:
    """Batched constant-velocity Kalman filter over ``(cx, cy, w, h)`` boxes.

    Args:
        std_position: position noise as a fraction of the box size (per frame).
        std_velocity: velocity noise as a fraction of the box size (per frame).
    The defaults, 1/20 and 1/160, are the weights of DeepSORT, ByteTrack and BoT-SORT, tuned on
    pedestrian video at 25-30 fps.
    """

    ndim = 4

    def __init__(self, std_position: float = 1.0 / 20, std_velocity: float = 1.0 / 160):
        self.std_position = float(std_position)
        self.std_velocity = float(std_velocity)
        # variance weights per state component; x-like components scale with w, y-like with h
        self._q_weight = np.repeat([self.std_position, self.std_velocity], 4) ** 2
        self._size_index = np.array([2, 3, 2, 3, 2, 3, 2, 3])

    @staticmethod
    def _size_scale(wh: np.ndarray) -> np.ndarray:
        """``[T, 4]`` of (w, h, w, h)."""
        return np.concatenate([wh, wh], axis=1)

    @staticmethod
    def _diag(cov: np.ndarray) -> np.ndarray:
        """Writable view ``[T, k]`` of the diagonals of ``[T, k, k]`` matrices."""
        return np.einsum("tii->ti", cov)

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks from ``[N, 4]`` (cx, cy, w, h): zero velocity, wide velocity variance."""
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        s = self._size_scale(z[:, 2:4])
        # velocity is unknown at birth: ten times the per-frame noise lets the first matches
        # set it quickly, position is trusted as twice the measurement noise
        std = np.concatenate([2 * self.std_position * s, 10 * self.std_velocity * s], axis=1)
        cov = np.zeros((len(z), 8, 8))
        idx = np.arange(8)
        cov[:, idx, idx] = std**2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """One step ahead for all tracks: ``x' = F x``, ``P' = F P F^T + Q``; ``dt`` in frames."""
        if len(mean) == 0:
            return mean, cov
        size = mean[:, self._size_index]
        q = size * size * (self._q_weight * dt)
        new_mean = mean.copy()
        new_mean[:, :4] += dt * mean[:, 4:]
        np.maximum(new_mean[:, 2:4], MIN_SIZE, out=new_mean[:, 2:4])
        f = np.eye(8)
        f[:4, 4:] = dt * np.eye(4)
        new_cov = f @ cov @ f.T  # batched matmul: [8, 8] @ [T, 8, 8] @ [8, 8]
        self._diag(new_cov)[:] += q
        return new_mean, new_cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Measurement-space mean ``[T, 4]`` and innovation covariance ``S = H P H^T + R``."""
        r = (self.std_position * self._size_scale(mean[:, 2:4])) ** 2
        s = cov[:, :4, :4].copy()
        self._diag(s)[:] += r
        return mean[:, :4], s

    def update(self, mean: np.ndarray, cov: np.ndarray,
               measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct ``T`` tracks with their ``[T, 4]`` matched measurements (row i with row i)."""
        if len(mean) == 0:
            return mean, cov
        z_pred, s = self.project(mean, cov)
        # gain K = P H^T S^-1; S and P are symmetric, so K^T = solve(S, H P): one batched solve
        gain = np.linalg.solve(s, cov[:, :4, :]).transpose(0, 2, 1)
        innovation = np.asarray(measurements, dtype=np.float64) - z_pred
        new_mean = mean + np.einsum("tij,tj->ti", gain, innovation)
        np.maximum(new_mean[:, 2:4], MIN_SIZE, out=new_mean[:, 2:4])
        new_cov = cov - gain @ cov[:, :4, :]  # P - K H P, equal to P - K S K^T with one matmul less
        return new_mean, new_cov

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray,
                        only_position: bool = False) -> np.ndarray:
        """Squared Mahalanobis distances ``[T, N]`` from each track to each measurement.

        Compare with ``CHI2_95[4]`` (or ``CHI2_95[2]`` with ``only_position``) to gate
        implausible pairs out of an assignment, as DeepSORT does.
        """
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        if len(mean) == 0 or len(z) == 0:
            return np.zeros((len(mean), len(z)))
        z_pred, s = self.project(mean, cov)
        if only_position:
            z_pred, s, z = z_pred[:, :2], s[:, :2, :2], z[:, :2]
        d = z[None, :, :] - z_pred[:, None, :]  # [T, N, k]
        # Cholesky then a solve against the lower factor: d^T S^-1 d = |L^-1 d|^2
        lower = np.linalg.cholesky(s)
        y = np.linalg.solve(lower[:, None], d[..., None])[..., 0]
        return np.einsum("tnk,tnk->tn", y, y)
