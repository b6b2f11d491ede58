"""recurrent kernels: Numba twins of kernels/reference/recurrent.py, same signatures."""

__all__: list[str] = []
