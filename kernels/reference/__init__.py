"""NumPy reference kernels: the seed's equations, written to be read."""
