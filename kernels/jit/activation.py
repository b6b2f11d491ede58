"""activation kernels: Numba twins of kernels/reference/activation.py, same signatures."""

__all__: list[str] = []
