"""A thin SVD that survives LAPACK's faster routine failing to converge (numpy only, scipy as the fallback)."""

from __future__ import annotations

import numpy as np


def thin_svd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's thin SVD, or LAPACK's slower gesvd where numpy's gesdd does not converge: OpenBLAS 0.3.31 on one
    thread failed it on a centred 960 x 800 gene matrix with 173 all-zero genes, which crashed a run's evaluation."""
    try:
        return np.linalg.svd(matrix, full_matrices=False)
    except np.linalg.LinAlgError:
        import scipy.linalg

        return scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesvd")
