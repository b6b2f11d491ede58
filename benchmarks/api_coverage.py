"""How much of the PyTorch surface that four official tutorials use does tinymm have?

Measures issue 11's share: the public names of ``torch``, ``torch.nn``,
``torch.nn.functional``, ``torch.optim``, ``torch.optim.lr_scheduler``, ``torch.nn.utils``
and ``torch.Tensor`` (plus the ``nn.Module`` / optimizer / scheduler methods the code
calls) that the code of four PyTorch tutorials uses, and which of them tinymm has under
the same name (``hasattr`` on the matching tinymm object). Names were collected by reading
the tutorials' source files in the pytorch/tutorials repository (``SOURCES``: path and the
commit read); a name is listed once per tutorial however often it appears. Names for
devices/CUDA, data downloads and data loading, ONNX export and other libraries
(torchvision, torchtext) are listed in ``EXCLUDED`` with the reason, and are not measured.

    python -m benchmarks.api_coverage            # prints the table and the share

This is a measurement (it prints); nothing asserts the share.
"""

from __future__ import annotations

import importlib
import sys

# tutorial -> [(path in pytorch/tutorials, commit read)]
SOURCES = {
    "Learn the Basics": [
        ("beginner_source/basics/quickstart_tutorial.py", "07a339ece661a2b304b8834780470f522eed1e02"),
        ("beginner_source/basics/tensorqs_tutorial.py", "0dea8a155bb46fd384abe428afcbb65e0a391739"),
        ("beginner_source/basics/data_tutorial.py", "07a339ece661a2b304b8834780470f522eed1e02"),
        ("beginner_source/basics/transforms_tutorial.py", "04deff56f6db9f3446e45f2a7cb13cc2134632e4"),
        ("beginner_source/basics/buildmodel_tutorial.py", "07a339ece661a2b304b8834780470f522eed1e02"),
        ("beginner_source/basics/autogradqs_tutorial.py", "1532c0de875b79f541371438d8d1d08be18f87de"),
        ("beginner_source/basics/optimization_tutorial.py", "009a87b0ec0b432889e865e55d3ae9e3912c306e"),
        ("beginner_source/basics/saveloadrun_tutorial.py", "07a339ece661a2b304b8834780470f522eed1e02"),
    ],
    "Deep Learning with PyTorch: A 60 Minute Blitz": [
        ("beginner_source/blitz/tensor_tutorial.py", "08c4ec986e5eddc66264d3f00f256aafe22d2786"),
        ("beginner_source/blitz/autograd_tutorial.py", "05f04cb4463d507cc90f891db82d8c2685e14b53"),
        ("beginner_source/blitz/neural_networks_tutorial.py", "06dc97785c47755b8d5bca167ad3cfc2ee8a04c1"),
        ("beginner_source/blitz/cifar10_tutorial.py", "04e3d04bcf91d38a1213918eba70dc43e9b0ce45"),
    ],
    "Classifying names with a character-level RNN": [
        ("intermediate_source/char_rnn_classification_tutorial.py",
         "016d0cc077f60c82b8497d4c7f92051ce40cafee"),
    ],
    "Language modeling with nn.Transformer": [
        ("beginner_source/transformer_tutorial.py", "00109f5abe4d664833ae7cde8b694b41356adb2b"),
    ],
}

# tutorial -> the names its code uses (PyTorch spelling)
USED = {
    "Learn the Basics": [
        "torch.tensor", "torch.from_numpy", "torch.ones_like", "torch.rand_like", "torch.rand",
        "torch.ones", "torch.zeros", "torch.cat", "torch.matmul", "torch.mul", "torch.no_grad",
        "torch.save", "torch.load", "torch.float", "torch.randn", "torch.eye", "torch.randint",
        "torch.Tensor.shape", "torch.Tensor.dtype", "torch.Tensor.T", "torch.Tensor.matmul",
        "torch.Tensor.mul", "torch.Tensor.sum", "torch.Tensor.item", "torch.Tensor.add_",
        "torch.Tensor.numpy", "torch.Tensor.argmax", "torch.Tensor.type",
        "torch.Tensor.backward", "torch.Tensor.grad", "torch.Tensor.grad_fn",
        "torch.Tensor.requires_grad", "torch.Tensor.detach", "torch.Tensor.pow", "torch.Tensor.t",
        "torch.Tensor.size", "torch.Tensor.squeeze", "torch.Tensor.scatter_",
        "torch.Tensor.__getitem__", "torch.Tensor.__setitem__",
        "torch.nn.Module", "torch.nn.Flatten", "torch.nn.Sequential", "torch.nn.Linear",
        "torch.nn.ReLU", "torch.nn.Softmax", "torch.nn.CrossEntropyLoss",
        "torch.nn.functional.binary_cross_entropy_with_logits",
        "torch.nn.Module.parameters", "torch.nn.Module.named_parameters",
        "torch.nn.Module.state_dict", "torch.nn.Module.load_state_dict", "torch.nn.Module.eval",
        "torch.nn.Module.train",
        "torch.optim.SGD", "torch.optim.Optimizer.zero_grad", "torch.optim.Optimizer.step",
    ],
    "Deep Learning with PyTorch: A 60 Minute Blitz": [
        "torch.empty", "torch.rand", "torch.zeros", "torch.long", "torch.tensor",
        "torch.randn_like", "torch.add", "torch.double", "torch.float", "torch.randn",
        "torch.ones", "torch.from_numpy", "torch.no_grad", "torch.max", "torch.arange",
        "torch.Tensor.new_ones", "torch.Tensor.size", "torch.Tensor.add_", "torch.Tensor.view",
        "torch.Tensor.item", "torch.Tensor.numpy", "torch.Tensor.grad_fn", "torch.Tensor.mean",
        "torch.Tensor.requires_grad", "torch.Tensor.requires_grad_", "torch.Tensor.backward",
        "torch.Tensor.grad", "torch.Tensor.data", "torch.Tensor.norm", "torch.Tensor.sum",
        "torch.Tensor.squeeze", "torch.Tensor.__getitem__", "torch.Tensor.__pow__",
        "torch.nn.Module", "torch.nn.Conv2d", "torch.nn.Linear", "torch.nn.MSELoss",
        "torch.nn.MaxPool2d", "torch.nn.CrossEntropyLoss",
        "torch.nn.functional.max_pool2d", "torch.nn.functional.relu",
        "torch.nn.Module.parameters", "torch.nn.Module.zero_grad",
        "torch.optim.SGD", "torch.optim.Optimizer.zero_grad", "torch.optim.Optimizer.step",
    ],
    "Classifying names with a character-level RNN": [
        "torch.zeros", "torch.cat", "torch.LongTensor",
        "torch.Tensor.size", "torch.Tensor.topk", "torch.Tensor.data", "torch.Tensor.add_",
        "torch.Tensor.sum", "torch.Tensor.numpy", "torch.Tensor.backward",
        "torch.Tensor.__getitem__", "torch.Tensor.__setitem__",
        "torch.nn.Module", "torch.nn.Linear", "torch.nn.LogSoftmax", "torch.nn.NLLLoss",
        "torch.nn.Module.parameters", "torch.nn.Module.zero_grad",
    ],
    "Language modeling with nn.Transformer": [
        "torch.arange", "torch.exp", "torch.zeros", "torch.sin", "torch.cos", "torch.tensor",
        "torch.long", "torch.cat", "torch.save", "torch.load", "torch.no_grad", "torch.Tensor",
        "torch.Tensor.unsqueeze", "torch.Tensor.size", "torch.Tensor.view", "torch.Tensor.t",
        "torch.Tensor.contiguous", "torch.Tensor.reshape", "torch.Tensor.numel",
        "torch.Tensor.uniform_", "torch.Tensor.zero_", "torch.Tensor.data", "torch.Tensor.item",
        "torch.Tensor.__getitem__", "torch.Tensor.backward",
        "torch.nn.Module", "torch.nn.TransformerEncoder", "torch.nn.TransformerEncoderLayer",
        "torch.nn.Embedding", "torch.nn.Linear", "torch.nn.Dropout", "torch.nn.CrossEntropyLoss",
        "torch.nn.Module.register_buffer", "torch.nn.Module.train", "torch.nn.Module.eval",
        "torch.nn.Module.parameters", "torch.nn.Module.state_dict",
        "torch.nn.Module.load_state_dict",
        "torch.optim.SGD", "torch.optim.Optimizer.zero_grad", "torch.optim.Optimizer.step",
        "torch.optim.lr_scheduler.StepLR", "torch.optim.lr_scheduler.StepLR.get_last_lr",
        "torch.optim.lr_scheduler.StepLR.step",
        "torch.nn.utils.clip_grad_norm_",
    ],
}

# names the tutorials use that are not measured, and why
EXCLUDED = {
    "torch.cuda.is_available": "device/CUDA",
    "torch.device": "device/CUDA",
    "torch.Tensor.device": "device/CUDA",
    "torch.Tensor.to": "device/CUDA (the tutorials call it with a device)",
    "torch.nn.Module.to": "device/CUDA (the tutorials call it with a device)",
    "torchvision.datasets.FashionMNIST": "data download",
    "torchvision.datasets.CIFAR10": "data download",
    "torchtext.datasets.WikiText2": "data download",
    "torchvision.models.vgg16": "pretrained-weight download",
    "torchvision.transforms.ToTensor": "another library (image transforms)",
    "torchvision.transforms.Lambda": "another library (image transforms)",
    "torchvision.transforms.Compose": "another library (image transforms)",
    "torchvision.transforms.Normalize": "another library (image transforms)",
    "torchvision.io.read_image": "another library (image files)",
    "torchvision.utils.make_grid": "another library (plotting)",
    "torchtext.data.utils.get_tokenizer": "another library (text)",
    "torchtext.vocab.build_vocab_from_iterator": "another library (text)",
    "torch.utils.data.DataLoader": "data loading (torch.utils.data, not a measured module)",
    "torch.utils.data.Dataset": "data loading (torch.utils.data, not a measured module)",
    "torch.utils.data.dataset.IterableDataset": "data loading (torch.utils.data)",
    "torch.onnx.export": "ONNX export (not a measured module)",
    "torch.autograd.Variable": "deprecated since PyTorch 0.4 (Variable(t) is t)",
}

# PyTorch prefix -> the tinymm object that should hold the same name
PREFIXES = [
    ("torch.nn.functional.", "tinymm.functional"),
    ("torch.nn.utils.", "tinymm.nn.utils"),
    ("torch.nn.Module.", "tinymm.nn:Module"),
    ("torch.nn.", "tinymm.nn"),
    ("torch.optim.lr_scheduler.StepLR.", "tinymm.optim.lr_scheduler:StepLR"),
    ("torch.optim.lr_scheduler.", "tinymm.optim.lr_scheduler"),
    ("torch.optim.Optimizer.", "tinymm.optim:Optimizer"),
    ("torch.optim.", "tinymm.optim"),
    ("torch.Tensor.", "tinymm:Tensor"),
    ("torch.", "tinymm"),
]


def _target(spec: str):
    """``"pkg.mod:Attr"`` -> that object (None if the module or attribute is missing)."""
    module, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(obj, attr, None) if attr else obj


def tinymm_has(name: str) -> bool:
    """Whether tinymm has the PyTorch name ``name`` under the same spelling."""
    for prefix, spec in PREFIXES:
        if name.startswith(prefix):
            obj = _target(spec)
            return obj is not None and hasattr(obj, name[len(prefix):])
    raise ValueError(f"api_coverage: {name!r} is not in a measured PyTorch namespace")


def measure() -> dict:
    """{tutorial: {"has": [...], "missing": [...]}} plus "all" for the union of names."""
    result = {}
    union = sorted({n for names in USED.values() for n in names})
    for title, names in [*USED.items(), ("all", union)]:
        unique = sorted(set(names))
        has = [n for n in unique if tinymm_has(n)]
        result[title] = {"has": has, "missing": [n for n in unique if n not in has]}
    return result


def main(argv: list[str] | None = None) -> int:
    result = measure()
    print(f"{'tutorial':<48s} {'names':>5s} {'tinymm':>6s} {'share':>6s}")
    for title, r in result.items():
        n = len(r["has"]) + len(r["missing"])
        print(f"{title:<48s} {n:5d} {len(r['has']):6d} {len(r['has']) / n:6.0%}")
    print("\nmissing from tinymm (all tutorials):")
    for name in result["all"]["missing"]:
        print(f"  {name}")
    print(f"\nexcluded, not measured ({len(EXCLUDED)}): " + ", ".join(sorted(EXCLUDED)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
