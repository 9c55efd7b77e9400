"""skipwrap.demo: an offline vision-language world and a tiny CLIP pre-trained on it.

No pre-trained CLIP or benchmark can be downloaded here, so the project ships its own:
``world`` draws labelled images and captions of coloured, patterned shapes, ``pretrain``
trains a small open_clip ``CLIP`` on them, and ``assets`` loads the shipped result. The
``skipwrap demo`` command uses these pieces to show Skip Tuning on a base-to-new split.
"""
