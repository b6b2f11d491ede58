"""norm kernels: Numba twins of kernels/reference/norm.py, same signatures."""

__all__: list[str] = []
