"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


def _check_module(fn: str, m) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{fn}: expected a Module, got {type(m).__name__}")
    return m


class Sequential(Module):
    """Modules applied in order, each output the next input; indexable like a list.

    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> model(tm.ones(5, 4)).shape, len(model), type(model[1]).__name__
    ((5, 2), 3, 'ReLU')
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (OrderedDict, dict)):
            for name, m in modules[0].items():
                self.register_module(str(name), _check_module("Sequential", m))
        else:
            for i, m in enumerate(modules):
                self.register_module(str(i), _check_module("Sequential", m))

    def forward(self, input):  # noqa: A002
        for m in self._modules.values():
            input = m(input)
        return input

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        try:
            return items[idx][1]
        except (IndexError, TypeError):
            raise IndexError(f"Sequential: index {idx!r} out of range for {len(items)} modules") from None

    def append(self, module: Module) -> Sequential:
        self.register_module(str(len(self)), _check_module("Sequential.append", module))
        return self


class ModuleList(Module):
    """A list of submodules, registered so their parameters are found.

    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.register_module(str(len(self)), _check_module("ModuleList.append", module))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx):
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        try:
            return values[idx]
        except (IndexError, TypeError):
            raise IndexError(f"ModuleList: index {idx!r} out of range for {len(values)} modules") from None

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it instead")


class ModuleDict(Module):
    """A dict of submodules by name, registered so their parameters are found.

    >>> heads = nn.ModuleDict({"image": nn.Linear(4, 2), "text": nn.Linear(3, 2)})
    >>> sorted(heads.keys()), heads["text"](tm.ones(1, 3)).shape
    (['image', 'text'], (1, 2))
    """

    def __init__(self, modules: Mapping[str, Module] | None = None):
        super().__init__()
        for name, m in (modules or {}).items():
            self[name] = m

    def __setitem__(self, name: str, module: Module) -> None:
        if not isinstance(name, str):
            raise TypeError(f"ModuleDict: keys must be str, got {type(name).__name__}")
        self.register_module(name, _check_module("ModuleDict", module))

    def __getitem__(self, name: str) -> Module:
        try:
            return self._modules[name]
        except KeyError:
            raise KeyError(f"ModuleDict: no module named {name!r}; have {list(self._modules)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(); index it instead")


class ParameterList(Module):
    """A list of Parameters, registered as ``"0"``, ``"1"``, ... (so ``state_dict`` keys
    match PyTorch's). A plain Tensor or array appended becomes a Parameter.

    >>> import tinymm as tm
    >>> ps = ParameterList([tm.nn.Parameter(tm.zeros(2).data) for _ in range(3)])
    >>> len(ps), list(ps.state_dict())
    (3, ['0', '1', '2'])
    """

    def __init__(self, values: Iterable | None = None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def append(self, value) -> ParameterList:
        if not isinstance(value, Parameter):
            if isinstance(value, Module) or value is None:
                raise TypeError(f"ParameterList.append: expected a Parameter, Tensor or array, "
                                f"got {type(value).__name__}")
            value = Parameter(value.data if isinstance(value, Tensor) else value)
        self.register_parameter(str(len(self)), value)
        return self

    def extend(self, values: Iterable) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __getitem__(self, idx):
        values = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(values[idx])
        try:
            return values[idx]
        except (IndexError, TypeError):
            raise IndexError(f"ParameterList: index {idx!r} out of range for {len(values)} "
                             "parameters") from None

    def __setitem__(self, idx: int, value) -> None:
        n = len(self)
        if not isinstance(idx, int) or not -n <= idx < n:
            raise IndexError(f"ParameterList: index {idx!r} out of range for {n} parameters")
        if not isinstance(value, Parameter):
            raise TypeError(f"ParameterList: expected a Parameter, got {type(value).__name__}")
        self.register_parameter(str(idx % n), value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward(); iterate over it instead")

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter of shape {tuple(p.shape)} ({p.dtype})"
                         for i, p in enumerate(self))
