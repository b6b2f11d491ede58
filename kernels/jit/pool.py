"""pool kernels: Numba twins of kernels/reference/pool.py, same signatures."""

__all__: list[str] = []
