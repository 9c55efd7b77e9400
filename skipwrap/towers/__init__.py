"""How skipwrap sees a model: registries from model / tower classes to adapters.

Two registries, both keyed by fully qualified class name (``module.QualName``) so that an
optional library (transformers) is never imported just to look a model up:

* a *model* registry: a dual-encoder class -> a function that returns its
  :class:`~skipwrap.towers.base.DualEncoder` (both towers + logit scale/bias);
* a *tower* registry: an encoder-tower class -> a :class:`~skipwrap.towers.base.Tower`
  factory, used by model adapters whose towers are pluggable (open_clip's ``visual``).

Adding a family is one new module that registers itself and is imported below.
Unknown models fall through to :mod:`skipwrap.towers.generic`.
"""
from __future__ import annotations

from typing import Callable, Optional, TypeVar

from torch import nn

from .base import Context, DualEncoder, Tower

ModelAdapter = Callable[[nn.Module], DualEncoder]
TowerAdapter = Callable[[nn.Module], Tower]
_F = TypeVar("_F", bound=Callable)

MODEL_ADAPTERS: dict[str, ModelAdapter] = {}
TOWER_ADAPTERS: dict[str, TowerAdapter] = {}


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _register(registry: dict[str, Callable], class_paths: tuple[str, ...]) -> Callable[[_F], _F]:
    def decorator(fn: _F) -> _F:
        for path in class_paths:
            if path in registry:
                raise ValueError(f"an adapter for {path} is already registered")
            registry[path] = fn
        return fn

    return decorator


def register_model(*class_paths: str) -> Callable[[_F], _F]:
    """Register a dual-encoder adapter for the given fully qualified class names."""
    return _register(MODEL_ADAPTERS, class_paths)


def register_tower(*class_paths: str) -> Callable[[_F], _F]:
    """Register a tower adapter for the given fully qualified class names."""
    return _register(TOWER_ADAPTERS, class_paths)


def _lookup(registry: dict[str, Callable], module: nn.Module) -> Optional[Callable]:
    for cls in type(module).__mro__:
        fn = registry.get(class_path(cls))
        if fn is not None:
            return fn
    return None


def find_tower_adapter(module: nn.Module) -> Optional[TowerAdapter]:
    return _lookup(TOWER_ADAPTERS, module)


def resolve(model: nn.Module) -> DualEncoder:
    """The dual encoder of ``model``: its registered adapter, else the generic fallback."""
    adapter = _lookup(MODEL_ADAPTERS, model)
    if adapter is not None:
        return adapter(model)
    from .generic import generic_dual_encoder

    return generic_dual_encoder(model)


# Adapter modules register themselves on import.
from . import openclip, hf  # noqa: E402,F401

__all__ = [
    "Context",
    "DualEncoder",
    "Tower",
    "register_model",
    "register_tower",
    "find_tower_adapter",
    "resolve",
    "MODEL_ADAPTERS",
    "TOWER_ADAPTERS",
]
