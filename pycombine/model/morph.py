"""The vertical-morph matrices of a compiled model (:mod:`.compile`).

A template update is ``u = base + D a + S b``: ``D`` and ``S`` are ``E x M`` matrices (entries x
morph pairs) holding each pair's up-minus-down and up-plus-down differences over its sample's
entries. Three storages, chosen by size:

* :class:`_Triplets` (small cards): (row, column, value) triplets, ``@`` a bincount; pure numpy,
  so ``combine`` on a datacard never imports scipy;
* :class:`_CSR`: scipy CSR matrices sharing one index structure (kept for the remainder of a
  :class:`BlockMorph` that is too large for triplets);
* :class:`BlockMorph` (large models and per-event channels, ``docs/UNBINNED.md``): every pair of
  a sample spans all of its entries, so the sample's pairs are one dense ``entries x pairs`` block
  and the products are BLAS matrix-vector products -- no index arrays (10^6 events x 40 pairs
  would hold 4 x 10^7 of them) and less memory traffic. :mod:`.compile` chooses it when the
  model stores more than :data:`SPARSE_THRESHOLD` values.

Every storage offers ``A @ x`` (``(M,) -> (E,)``) and ``A.T @ y`` (``(E,) -> (M,)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class _Triplets:
    """A sparse matrix as (row, column, value) triplets; ``@`` is a bincount (pure numpy).

    For the template morphs of typical cards this is as fast as scipy.sparse and saves importing
    scipy (~0.15 s) on every ``combine`` call; large models use scipy's CSR matrices instead.
    """

    def __init__(self, rows, cols, vals, shape, transposed=None):
        self.rows, self.cols, self.vals, self.shape = rows, cols, vals, shape
        self._T = transposed

    @property
    def T(self) -> "_Triplets":
        if self._T is None:
            self._T = _Triplets(self.cols, self.rows, self.vals, (self.shape[1], self.shape[0]), self)
        return self._T

    @property
    def nnz(self) -> int:
        return int(self.vals.size)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.rows, weights=self.vals * x[self.cols], minlength=self.shape[0])


#: above this many stored values the morph matrices are scipy CSR matrices
SPARSE_THRESHOLD = 200_000


class _CSR:
    """A scipy sparse matrix ``a`` and its transpose ``b`` (``.T`` swaps them)."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    @property
    def T(self):
        return _CSR(self.b, self.a)

    @property
    def nnz(self) -> int:
        return int(self.a.nnz)

    def __matmul__(self, x):
        return self.a @ x


def sparse_columns(rows, cols, vals, shape):
    if vals.size <= SPARSE_THRESHOLD:
        return _Triplets(rows, cols, vals, shape)
    import scipy.sparse as sp

    mat = sp.csr_matrix((vals, (rows, cols)), shape=shape)
    return _CSR(mat, mat.T)  # the transpose: a CSC view sharing the arrays (same sums, same order)


@dataclass(eq=False)  # numpy fields: a generated __eq__ could not compare them
class DenseBlock:
    """Columns ``col0 .. col0 + values.shape[1] - 1`` of a morph matrix, non-zero on the rows
    ``row0 .. row0 + values.shape[0] - 1`` only (one per-event sample and its pairs)."""

    row0: int
    col0: int
    values: np.ndarray  # (rows, columns), Fortran order

    def __post_init__(self):
        # kept as attributes: every product reads them once per block (10^2..10^4 blocks)
        self.rows = slice(self.row0, self.row0 + self.values.shape[0])
        self.cols = slice(self.col0, self.col0 + self.values.shape[1])


class BlockMorph:
    """A morph matrix as dense blocks plus a sparse remainder (``rest``: the binned samples'
    pairs, whose block columns are empty there)."""

    def __init__(self, rest, blocks: list[DenseBlock], shape: tuple[int, int]):
        self.rest, self.blocks, self.shape = rest, blocks, shape

    @property
    def T(self) -> "_BlockMorphT":
        return _BlockMorphT(self)

    @property
    def nnz(self) -> int:
        return self.rest.nnz + sum(int(b.values.size) for b in self.blocks)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        out = self.rest @ x if self.rest.nnz else np.zeros(self.shape[0])
        for b in self.blocks:
            out[b.rows] += b.values @ x[b.cols]
        return out


class _BlockMorphT:
    """The transpose of a :class:`BlockMorph` (``(E,) -> (M,)``)."""

    def __init__(self, base: BlockMorph):
        self.base = base
        self.shape = (base.shape[1], base.shape[0])

    def __matmul__(self, y: np.ndarray) -> np.ndarray:
        base = self.base
        out = base.rest.T @ y if base.rest.nnz else np.zeros(self.shape[0])
        for b in base.blocks:
            out[b.cols] += b.values.T @ y[b.rows]
        return out


def morph_matrices(ranges, d_vals, s_vals, shape, blocks=()):
    """The two ``E x M`` morph matrices (differences, sums) whose column ``m`` holds the values
    ``d_vals[m]`` / ``s_vals[m]`` at the entries ``ranges[m] = (first, count)``, plus the dense
    ``blocks``: (first entry, first column, differences, sums) with Fortran-ordered (entries x
    columns) arrays, whose columns have no sparse values (count 0).

    Large sparse ones are CSR matrices built from the column ranges directly, sharing one index
    structure (a combination of 10^4 shape pairs x 10^3 bins would otherwise hold several copies
    of 10^7 row and column indices); the matrices are those of :func:`sparse_columns`."""
    sparse = _sparse_matrices(ranges, d_vals, s_vals, shape)
    if not blocks:
        return sparse
    return (BlockMorph(sparse[0], [DenseBlock(e0, m0, d) for e0, m0, d, _ in blocks], shape),
            BlockMorph(sparse[1], [DenseBlock(e0, m0, sv) for e0, m0, _, sv in blocks], shape))


def _sparse_matrices(ranges, d_vals, s_vals, shape):
    sizes = np.array([n for _, n in ranges], dtype=np.int64)
    nnz = int(sizes.sum())
    if nnz <= SPARSE_THRESHOLD:
        rows = np.concatenate([np.arange(e, e + n) for e, n in ranges]) if ranges else np.zeros(0, int)
        cols = np.repeat(np.arange(len(ranges)), sizes)
        vals_d = np.concatenate(d_vals) if ranges else np.zeros(0)
        vals_s = np.concatenate(s_vals) if ranges else np.zeros(0)
        return sparse_columns(rows, cols, vals_d, shape), sparse_columns(rows, cols, vals_s, shape)
    import scipy.sparse as sp

    starts = np.array([e for e, _ in ranges], dtype=np.int64)
    indptr = np.zeros(len(ranges) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    itype = np.int32 if max(shape) < 2**31 and nnz < 2**31 else np.int64
    # row of every stored value, column by column
    indices = np.repeat((starts - indptr[:-1]).astype(itype), sizes)
    indices += np.arange(nnz, dtype=itype)
    # the position of every CSR value in the column-major order (exact in float64 below 2^53)
    order = sp.csc_matrix((np.arange(nnz, dtype=np.float64), indices, indptr.astype(itype)), shape=shape).tocsr()
    del indices
    perm = order.data.astype(np.int64)
    out = []
    for vals in (d_vals, s_vals):
        v = np.concatenate(vals)[perm]
        mat = sp.csr_matrix((v, order.indices, order.indptr), shape=shape)
        out.append(_CSR(mat, mat.T))
    return out[0], out[1]
