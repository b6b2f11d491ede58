"""Differentiable Tensor ops: elementwise arithmetic, reductions and shape ops.

Each op is a ``Function`` whose forward and backward sit side by side; ``Tensor``'s
methods call the functions exported here.
"""
