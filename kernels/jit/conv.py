"""conv kernels: Numba twins of kernels/reference/conv.py, same signatures."""

__all__: list[str] = []
