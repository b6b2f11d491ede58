"""Benchmarks of tinymm against PyTorch: ``python benchmarks/run.py [--quick]``.

Each case runs in three worker processes (tinymm on the Numba backend, tinymm on the NumPy
reference backend, PyTorch) with the same thread count and the same seeded data; see
``benchmarks/README.md``.
"""
