"""Numba JIT kernels: same signatures as kernels/reference, written to be fast."""
