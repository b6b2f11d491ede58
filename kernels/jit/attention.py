"""attention kernels: Numba twins of kernels/reference/attention.py, same signatures."""

__all__: list[str] = []
