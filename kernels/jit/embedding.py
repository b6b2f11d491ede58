"""embedding kernels: Numba twins of kernels/reference/embedding.py, same signatures."""

__all__: list[str] = []
