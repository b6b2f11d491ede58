"""pool kernels: NumPy reference twins (see kernels/__init__.py)."""

__all__: list[str] = []
