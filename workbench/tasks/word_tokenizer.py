"""A word-level tokenizer for the tiny random models built in code (tests and teaching): every
word of a short list is one token, split on whitespace, with no hub download. The multimodal
twins and the instruction-parsing twin all build theirs here."""

from __future__ import annotations

from typing import Any


def word_level_tokenizer(words: list[str], **special: Any) -> tuple[Any, dict[str, int]]:
    """(a `PreTrainedTokenizerFast`, its vocabulary) for `words` (repeats keep their first id);
    `special` names the special tokens (`unk_token` defaults to <unk>, `pad_token` to <pad>)."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers import models as tokenizer_models
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    special = {"unk_token": "<unk>", "pad_token": "<pad>", **special}
    core = Tokenizer(tokenizer_models.WordLevel(vocab, unk_token=special["unk_token"]))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, **special), vocab
