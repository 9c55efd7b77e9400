"""The demo word tokenizer: rows shaped as open_clip's text tower expects them, UNK, save / load."""
from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skipwrap.demo import world
from skipwrap.demo.tokenizer import CONTEXT_LENGTH, WordTokenizer, split_words

TOKENIZER = WordTokenizer.from_texts(world.all_captions())
KNOWN = sorted(TOKENIZER.words)
texts = st.lists(st.one_of(st.sampled_from(KNOWN), st.sampled_from(["zebra", "purple-ish", "7", "!"])),
                 max_size=30).map(" ".join)


def test_vocabulary_covers_the_world_and_orders_special_ids():
    assert TOKENIZER.pad_id == 0 and TOKENIZER.sot_id == 1
    assert TOKENIZER.eot_id == TOKENIZER.vocab_size - 1 == max(TOKENIZER.vocab.values())
    assert {word for name in world.CLASSNAMES for word in name.split()} <= set(KNOWN)
    assert "." in KNOWN


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=1, max_size=4))
def test_rows_have_sot_a_max_eot_and_zero_padding(batch):
    ids = TOKENIZER(batch)
    assert ids.shape == (len(batch), CONTEXT_LENGTH) and ids.dtype == torch.long
    for row, text in zip(ids, batch):
        length = min(len(split_words(text)), CONTEXT_LENGTH - 2)
        assert row[0] == TOKENIZER.sot_id
        assert int(row.argmax()) == length + 1 and row[length + 1] == TOKENIZER.eot_id
        assert (row[length + 2:] == 0).all() and (row[1:length + 1] > 0).all()
        assert (row[1:length + 1] < TOKENIZER.eot_id).all()  # EOT is the row's unique maximum


@settings(max_examples=40, deadline=None)
@given(texts)
def test_known_words_round_trip_and_unknown_words_map_to_unk(text):
    words = split_words(text)[:CONTEXT_LENGTH - 2]
    ids = TOKENIZER([text])[0, 1:len(words) + 1].tolist()
    back = {i: word for word, i in TOKENIZER.vocab.items()}
    assert [back[i] if i != TOKENIZER.unk_id else None for i in ids] == [w if w in TOKENIZER.vocab else None for w in words]


def test_case_and_punctuation_are_split():
    assert split_words("A Red star, striped.") == ["a", "red", "star", ",", "striped", "."]
    assert TOKENIZER("a red star")[0, :5].tolist() == TOKENIZER("A  RED star")[0, :5].tolist()


def test_save_and_load_give_the_same_ids(tmp_path):
    TOKENIZER.save(tmp_path / "tokenizer.json")
    loaded = WordTokenizer.load(tmp_path / "tokenizer.json")
    sample = ["a photo of a large red striped star.", "an unknown zebra"]
    assert torch.equal(loaded(sample), TOKENIZER(sample))
    assert loaded.vocab == TOKENIZER.vocab and loaded.context_length == TOKENIZER.context_length
