"""The two records every data source produces: one labelled image, and a benchmark.

They are plain dataclasses so that sources, samplers and the training loop agree on one
shape without importing each other, and so that a benchmark can be built by hand in a test.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SPLITS = ("train", "val", "test")
DEFAULT_TEMPLATE = "a photo of a {}."


@dataclass(frozen=True)
class Sample:
    """One image on disk with its class id and the class's name (``classnames[label]``)."""

    path: str
    label: int
    classname: str


@dataclass(frozen=True)
class Benchmark:
    """Train / val / test samples sharing one label space (``classnames[label]``).

    ``template`` turns a class name into the text prompt of the class (``"a photo of a {}."``).
    Any split may be empty: test-only targets such as ImageNet-A have only ``test``.
    """

    name: str
    classnames: list[str]
    template: str = DEFAULT_TEMPLATE
    train: list[Sample] = field(default_factory=list)
    val: list[Sample] = field(default_factory=list)
    test: list[Sample] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classnames)

    def prompts(self) -> list[str]:
        """One prompt per class, in label order; underscores in names read as spaces (as CoOp does)."""
        return [self.template.format(name.replace("_", " ")) for name in self.classnames]
