"""The generic fallback: any dual encoder exposing ``encode_image`` / ``encode_text`` (or
``get_image_features`` / ``get_text_features``) whose towers run a list of same-typed blocks.

Nothing of the model is replaced. The block list is found by introspection (candidates:
every ``nn.ModuleList`` / ``nn.Sequential`` of two or more same-typed modules; the one the
encoder actually runs, longest first, wins). The first time a tower sees an input it is
*bound*: one probing call learns which list it runs, the batch dimension of its hidden
states, and which parameters reach the input of block ``k`` (by autograd connectivity, so
bare parameters such as positional embeddings are found too).

* prefix: a forward pre-hook on block ``k`` captures its input and stops the call;
* suffix: the model's own encoder runs on a placeholder input (zeros of the image shape, or
  the real token ids), blocks ``0..k-1`` answer with a pass-through *for the duration of that
  call only* (their ``forward`` is shadowed and restored in ``finally``), and a pre-hook on
  block ``k`` swaps the placeholder states for the cached ones.

The stem runs once more on the placeholder in the suffix: explicit adapters avoid that.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
from torch import nn

from .base import DualEncoder, Tower


class UnsupportedModelError(TypeError):
    """skipwrap cannot see the towers of this model; the message says what it found."""


class _Captured(Exception):
    def __init__(self, hidden: torch.Tensor):
        self.hidden = hidden


def as_features(output: Any) -> torch.Tensor:
    """A tensor from whatever an encoder returns (tensor, HF output object, tuple)."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, "pooler_output", None)
    if isinstance(pooled, torch.Tensor):
        return pooled
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise UnsupportedModelError(f"encoder returned {type(output).__name__}, not a feature tensor")


def block_lists(root: nn.Module) -> list[tuple[str, Sequence[nn.Module]]]:
    """Every ModuleList / Sequential of >= 2 same-typed modules that hold parameters."""
    found = []
    for name, module in root.named_modules():
        if not isinstance(module, (nn.ModuleList, nn.Sequential)) or len(module) < 2:
            continue
        kinds = {type(child) for child in module}
        if len(kinds) == 1 and any(True for _ in module.parameters()):
            found.append((name, module))
    return found


def _describe_lists(root: nn.Module) -> str:
    lists = [(n or "<root>", len(m), sorted({type(c).__name__ for c in m}))
             for n, m in root.named_modules() if isinstance(m, (nn.ModuleList, nn.Sequential))]
    if not lists:
        return "no nn.ModuleList or nn.Sequential at all"
    return "; ".join(f"{n} (len {size}, {', '.join(kinds) or 'empty'})" for n, size, kinds in lists[:12])


def _first_tensor_arg(args: tuple, kwargs: dict) -> tuple[Optional[int], Optional[str]]:
    if args and isinstance(args[0], torch.Tensor):
        return 0, None
    for key in ("hidden_states", "x", "hidden", "inputs_embeds"):
        if isinstance(kwargs.get(key), torch.Tensor):
            return None, key
    return None, None


def _get_hidden(args: tuple, kwargs: dict) -> torch.Tensor:
    pos, key = _first_tensor_arg(args, kwargs)
    if pos is None and key is None:
        raise UnsupportedModelError("a block was called without a hidden-state tensor argument")
    return args[0] if pos == 0 else kwargs[key]


def _set_hidden(args: tuple, kwargs: dict, hidden: torch.Tensor) -> tuple[tuple, dict]:
    pos, key = _first_tensor_arg(args, kwargs)
    if pos == 0:
        return (hidden,) + tuple(args[1:]), kwargs
    return args, {**kwargs, key: hidden}


class GenericTower(Tower):
    """A tower seen only through its encoder function and its block list (see module doc)."""

    def __init__(self, root: nn.Module, encode: Callable[..., Any], modality: str):
        if not block_lists(root):
            raise UnsupportedModelError(
                f"{type(root).__name__}: found no list of two or more same-typed blocks to split; "
                f"module lists found: {_describe_lists(root)}")
        self.root = root
        self.encode = encode
        self.modality = modality
        self._blocks: Optional[Sequence[nn.Module]] = None
        self._stem: list[nn.Parameter] = []
        self._batch_dim = 0
        self._input_shape: Optional[tuple[int, ...]] = None
        self._input_dtype: Optional[torch.dtype] = None
        self._block_returns_tuple = False
        self._bound_k: Optional[int] = None

    # -- binding ---------------------------------------------------------------------------
    @property
    def is_bound(self) -> bool:
        return self._blocks is not None

    @property
    def blocks(self) -> Sequence[nn.Module]:
        if self._blocks is None:
            raise RuntimeError(f"generic {self.modality} tower of {type(self.root).__name__} is not bound "
                               "yet: it learns its block list from the first input it sees "
                               "(pass example_inputs to skip_wrap to bind at wrap time)")
        return self._blocks

    def bind(self, inputs: torch.Tensor, k: int, **extra: Any) -> None:
        """Probe the encoder once on (at most two rows of) ``inputs``."""
        probe = inputs[:1].expand(2, *inputs.shape[1:]) if inputs.shape[0] < 2 else inputs[:2]
        candidates = block_lists(self.root)
        calls: dict[int, int] = {}
        handles = [block.register_forward_pre_hook(lambda m, a, i=i: calls.__setitem__(i, calls.get(i, 0) + 1))
                   for i, (_, blocks) in enumerate(candidates) for block in blocks]
        outputs: dict[int, Any] = {}
        handles += [blocks[0].register_forward_hook(lambda m, a, o, i=i: outputs.setdefault(i, o))
                    for i, (_, blocks) in enumerate(candidates)]
        try:
            with torch.no_grad():
                self.encode(probe, **_rows(extra, 2))
        finally:
            for h in handles:
                h.remove()
        ran = [i for i in calls if calls[i] >= len(candidates[i][1])]
        if not ran:
            raise UnsupportedModelError(
                f"the {self.modality} encoder of {type(self.root).__name__} ran none of its block lists "
                f"in full; candidates: {', '.join(n for n, _ in candidates)}")
        best = max(ran, key=lambda i: len(candidates[i][1]))
        self._blocks = candidates[best][1]
        self._block_returns_tuple = isinstance(outputs.get(best), tuple)
        self._input_shape = tuple(inputs.shape[1:])
        self._input_dtype = inputs.dtype
        self._check_depth(k)
        hidden = self._capture(probe, k, grad=True, **_rows(extra, 2))
        dims = [d for d in range(hidden.dim()) if hidden.shape[d] == 2]
        if not dims:
            raise UnsupportedModelError(f"cannot find the batch dimension of hidden states {tuple(hidden.shape)}")
        self._batch_dim = dims[0]
        self._stem = self._connected_parameters(hidden)
        self._bound_k = k

    def _check_depth(self, k: int) -> None:
        if not 0 <= k < len(self.blocks):
            raise ValueError(f"generic towers split before a block: skip_layers for the {self.modality} "
                             f"tower must be in [0, {len(self.blocks) - 1}], got {k}")

    def _connected_parameters(self, hidden: torch.Tensor) -> list[nn.Parameter]:
        in_blocks = {id(p) for b in self.blocks for p in b.parameters()}
        params = [p for p in self.root.parameters() if p.requires_grad and id(p) not in in_blocks]
        if not hidden.requires_grad or not params:
            return []
        with torch.enable_grad():
            grads = torch.autograd.grad(hidden.float().sum(), params, allow_unused=True)
        return [p for p, g in zip(params, grads) if g is not None]

    # -- prefix / suffix -------------------------------------------------------------------
    def _capture(self, inputs: torch.Tensor, k: int, grad: bool = False, **extra: Any) -> torch.Tensor:
        def stop(module, args, kwargs):
            raise _Captured(_get_hidden(args, kwargs))

        handle = self.blocks[k].register_forward_pre_hook(stop, with_kwargs=True)
        try:
            with torch.set_grad_enabled(grad):
                self.encode(inputs, **extra)
        except _Captured as captured:
            return captured.hidden
        finally:
            handle.remove()
        raise UnsupportedModelError(f"the {self.modality} encoder never reached block {k}")

    def stem_modules(self) -> list[nn.Module]:
        return []

    def prefix_modules(self, k: int) -> list[nn.Module]:
        """The stem is not known module by module: the whole root runs the (stopped) call."""
        return [self.root]

    def stem_parameters(self) -> list[nn.Parameter]:
        return list(self._stem)

    def run_prefix(self, inputs: torch.Tensor, k: int, **extra: Any) -> torch.Tensor:
        if not self.is_bound:
            self.bind(inputs, k, **extra)
        self._check_depth(k)
        return self._capture(inputs, k, grad=torch.is_grad_enabled(), **extra).movedim(self._batch_dim, 0)

    def run_suffix(self, hidden: torch.Tensor, k: int, inputs: Optional[torch.Tensor] = None,
                   *, shorten: bool = True, **extra: Any) -> torch.Tensor:
        self._check_depth(k)
        if inputs is None:
            if self.modality == "text":
                raise ValueError("the text suffix needs the token ids of its rows")
            inputs = torch.zeros(hidden.shape[0], *self._input_shape, dtype=self._input_dtype,
                                 device=hidden.device)
        cached = hidden.movedim(0, self._batch_dim)

        def swap(module, args, kwargs):
            return _set_hidden(args, kwargs, cached.to(_get_hidden(args, kwargs).dtype))

        handle = self.blocks[k].register_forward_pre_hook(swap, with_kwargs=True)
        try:
            with self._passthrough(list(self.blocks)[:k]):
                return as_features(self.encode(inputs, **extra))
        finally:
            handle.remove()

    @contextlib.contextmanager
    def _passthrough(self, blocks: list[nn.Module]) -> Iterator[None]:
        """Blocks answer with their input, for this call only; their own forward is restored."""
        as_tuple = self._block_returns_tuple

        def skip(*args, **kwargs):
            hidden = _get_hidden(args, kwargs)
            return (hidden,) if as_tuple else hidden

        for block in blocks:
            block.forward = skip
        try:
            yield
        finally:
            for block in blocks:
                del block.forward


def _rows(extra: dict, n: int) -> dict:
    """Extra per-row inputs (attention masks) cut or repeated to ``n`` rows like the probe."""
    out = {}
    for key, value in extra.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            value = value[:1].expand(n, *value.shape[1:]) if value.shape[0] < n else value[:n]
        out[key] = value
    return out


_ENCODER_NAMES = (("encode_image", "encode_text"), ("get_image_features", "get_text_features"))


def generic_dual_encoder(model: nn.Module) -> DualEncoder:
    """The fallback adapter; raises :class:`UnsupportedModelError` naming what it found."""
    from . import MODEL_ADAPTERS

    for image_name, text_name in _ENCODER_NAMES:
        if callable(getattr(model, image_name, None)) and callable(getattr(model, text_name, None)):
            break
    else:
        own = set(dir(type(model))) - set(dir(nn.Module))
        methods = sorted(n for n in own if n.startswith(("encode", "get_")))
        raise UnsupportedModelError(
            f"{type(model).__module__}.{type(model).__qualname__} has no registered adapter "
            f"(known: {', '.join(sorted(k.rsplit('.', 1)[-1] for k in MODEL_ADAPTERS))}) and no "
            f"encode_image/encode_text or get_image_features/get_text_features methods "
            f"(found: {', '.join(methods) or 'none'})")
    encode_image = getattr(model, image_name)
    encode_text = getattr(model, text_name)
    scale = getattr(model, "logit_scale", None)
    bias = getattr(model, "logit_bias", None)
    return DualEncoder(
        image=GenericTower(model, encode_image, modality="image"),
        text=GenericTower(model, encode_text, modality="text"),
        logit_scale=scale if isinstance(scale, torch.Tensor) else None,
        logit_bias=bias if isinstance(bias, torch.Tensor) else None,
        encode_image=lambda x, **kw: as_features(encode_image(x, **kw)),
        encode_text=lambda x, **kw: as_features(encode_text(x, **kw)),
        family=f"generic:{type(model).__qualname__}",
    )
