"""A word-level tokenizer for the demo CLIP: a fixed vocabulary, no download, one small JSON.

Rows follow open_clip's conventions so the model's own text tower reads them unchanged:
``[SOT, w1, ..., wk, EOT, 0, 0, ...]`` with ``0`` the padding id and ``EOT`` the highest id
of the vocabulary, because open_clip's text tower pools at ``argmax`` of the ids. Words
outside the vocabulary map to ``UNK``; text too long for the context is cut so that EOT
still ends the row.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Sequence, Union

import torch

PathLike = Union[str, os.PathLike]

CONTEXT_LENGTH = 16
PAD, SOT, UNK = "<pad>", "<sot>", "<unk>"
EOT = "<eot>"
_PIECES = re.compile(r"[a-z]+|[^\sa-z]")


def split_words(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks: ``"A red star."`` -> ``a red star .``."""
    return _PIECES.findall(text.lower())


class WordTokenizer:
    """Maps texts to ``(N, context_length)`` LongTensors of word ids (see the module docstring)."""

    def __init__(self, words: Sequence[str], context_length: int = CONTEXT_LENGTH):
        if context_length < 2:
            raise ValueError(f"context_length must leave room for SOT and EOT, got {context_length}")
        specials = {PAD, SOT, UNK, EOT}
        self.words = sorted(set(words) - specials)
        self.context_length = context_length
        self.vocab = {token: i for i, token in enumerate([PAD, SOT, UNK, *self.words, EOT])}
        self.pad_id, self.sot_id, self.unk_id = 0, 1, 2
        self.eot_id = len(self.vocab) - 1

    @classmethod
    def from_texts(cls, texts: Iterable[str], context_length: int = CONTEXT_LENGTH) -> "WordTokenizer":
        """The tokenizer whose vocabulary is every word of ``texts``."""
        return cls(sorted({word for text in texts for word in split_words(text)}), context_length)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """One row's ids before padding: SOT, the (cut) words, EOT."""
        ids = [self.vocab.get(word, self.unk_id) for word in split_words(text)]
        return [self.sot_id, *ids[: self.context_length - 2], self.eot_id]

    def __call__(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else texts
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = self.encode(text)
            out[row, : len(ids)] = torch.tensor(ids)
        return out

    def save(self, path: PathLike) -> None:
        Path(path).write_text(json.dumps({"context_length": self.context_length, "words": self.words}, indent=1))

    @classmethod
    def load(cls, path: PathLike) -> "WordTokenizer":
        data = json.loads(Path(path).read_text())
        return cls(data["words"], data["context_length"])
