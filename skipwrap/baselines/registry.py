"""Baselines by name, and how a name plus overrides becomes a method and its hyper-parameters.

Skip Tuning itself and full fine-tuning (``skip_layers=0, class_ratio=1.0``) train with
:func:`skipwrap.train.train`, not here.
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping, Optional

from .coop import CoOp
from .linear_probe import LinearProbe
from .lora import LoRA
from .method import Method
from .optim import Hyper
from .zeroshot import ZeroShot

METHODS: dict[str, type[Method]] = {cls.name: cls for cls in (ZeroShot, LinearProbe, CoOp, LoRA)}


def method_options(cls: type[Method]) -> tuple[str, ...]:
    """The keyword options of a method's constructor (e.g. CoOp's ``n_ctx``)."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = inspect.signature(cls.__init__).parameters.values()
    return tuple(p.name for p in parameters if p.kind in named and p.name != "self")


def build_method(name: str, overrides: Optional[Mapping[str, Any]] = None) -> tuple[Method, Optional[Hyper]]:
    """The method ``name`` with its options, and its hyper-parameters (``None``: it trains
    nothing), each override replacing the published default of the same name."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; methods: {', '.join(METHODS)} "
                         "(skip and ft train with skipwrap.train.train)")
    cls = METHODS[name]
    overrides = dict(overrides or {})
    options = {k: overrides.pop(k) for k in method_options(cls) if k in overrides}
    tunable = Hyper.field_names() if cls.hyper is not None else ()
    unknown = sorted(set(overrides) - set(tunable))
    if unknown:
        accepted = [*method_options(cls), *tunable]
        raise ValueError(f"{name} does not take {', '.join(unknown)}; it takes {', '.join(accepted) or 'nothing'}")
    hyper = cls.hyper.replaced(**overrides) if cls.hyper is not None else None
    return cls(**options), hyper
