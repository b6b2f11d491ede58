"""optim kernels: Numba twins of kernels/reference/optim.py, same signatures."""

__all__: list[str] = []
