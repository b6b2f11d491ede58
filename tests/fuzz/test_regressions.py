"""Regression tests for what the API fuzz found (each failed before its fix)."""

from __future__ import annotations

import numpy as np
import pytest

import tinymm as tm
import tinymm.functional as F
from tinymm import nn
from tinymm._validation import MEMORY_LIMIT, IndexOutOfRange, check_alloc


def test_check_alloc_refuses_sizes_beyond_memory_without_overflow():
    check_alloc("op", "the output", (1024, 1024), np.float32)  # 4 MiB: fine
    with pytest.raises(ValueError, match=r"op: the output of shape \(2, 1099511627776\) would "
                                         r"take .* GiB, more than this machine's memory"):
        check_alloc("op", "the output", (2, 2**40), np.float32)
    # products past int64 are exact Python ints, not wrapped-around small numbers
    with pytest.raises(ValueError, match="op: the output"):
        check_alloc("op", "the output", (2**62, 2**62, 4), np.float64)
    assert MEMORY_LIMIT > 2**20


@pytest.mark.parametrize("make", [
    lambda: nn.Linear(2**40, 1), lambda: nn.Embedding(2**40, 4),
    lambda: nn.Conv2d(3, 4, 2**21), lambda: nn.LSTM(8, 2**40), lambda: nn.LayerNorm(2**40),
    lambda: nn.MultiheadAttention(2**40, 1),
], ids=["Linear", "Embedding", "Conv2d", "LSTM", "LayerNorm", "MultiheadAttention"])
def test_absurd_constructor_sizes_are_refused_before_allocating(make):
    with pytest.raises(ValueError, match="would take .* GiB"):
        make()


def test_absurd_functional_sizes_are_refused_before_allocating():
    x = tm.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: the output"):
        F.adaptive_avg_pool2d(x, (2, 2**40))
    with pytest.raises(ValueError, match="one_hot: the output"):
        F.one_hot(tm.tensor([1, 2]), num_classes=2**40)
    with pytest.raises(ValueError, match="conv2d: the padded input"):
        F.conv2d(x, tm.randn(2, 1, 3, 3), padding=2**31)
    with pytest.raises(ValueError, match="max_pool2d: the padded input"):
        F.max_pool2d(x, kernel_size=2**40, padding=2**39)


@pytest.mark.parametrize("dtype", [np.float16, np.complex64])
def test_unsupported_dtypes_are_refused_naming_the_op(dtype):
    x = tm.Tensor(np.ones((2, 3), dtype))
    with pytest.raises(TypeError, match=f"relu: input has dtype {np.dtype(dtype)}"):
        F.relu(x)
    with pytest.raises(TypeError, match="Flatten: input"):
        nn.Flatten()(x)
    with pytest.raises(TypeError, match="Flatten: input must be a Tensor"):
        nn.Flatten()([[1.0, 2.0]])


def test_out_of_range_indices_raise_index_error():
    with pytest.raises(IndexError, match="embedding: index 5"):
        F.embedding(tm.tensor([0, 5]), tm.randn(5, 2))
    with pytest.raises(IndexError, match="cross_entropy: target holds class 3"):
        F.cross_entropy(tm.randn(2, 3), tm.tensor([0, 3]))
    with pytest.raises(IndexError, match="softmax: dim=2"):
        F.softmax(tm.randn(2, 3), dim=2)
    assert issubclass(IndexOutOfRange, ValueError)  # code catching ValueError keeps working


def test_empty_batches():
    x = tm.Tensor(np.zeros((0, 2, 4, 4), np.float32), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.shape == (0, 2, 4, 4)
    q = tm.Tensor(np.zeros((0, 2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="scaled_dot_product_attention: query must not be empty"):
        F.scaled_dot_product_attention(q, q, q)
    with pytest.raises(ValueError, match="MultiheadAttention: query and key must not be empty"):
        nn.MultiheadAttention(4, 2, batch_first=True)(*(tm.zeros(0, 3, 4),) * 3)
    with pytest.raises(ValueError, match="lstm_layer: input must have a batch"):
        nn.LSTM(4, 3)(tm.zeros(5, 0, 4))
    e = tm.Tensor(np.zeros((0, 8), np.float32), requires_grad=True)
    y = F.layer_norm(e, 8)
    assert y.shape == (0, 8)
