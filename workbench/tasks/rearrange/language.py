"""Free text to a goal through a small instruction-tuned language model from the registry.

The model does one thing: rewrite what a person typed ("could you stand the mug up next to the
box, on its left?") as one sentence of the rule parser's templates ("put the mug upright to the
left of the box"). The rule parser then reads that sentence and checks it against the scene,
so a model's mistake can never reach the hand as a goal the rules would refuse: it is refused
in one sentence that shows what the model read. The loader is the real one (transformers'
Auto classes from the Hugging Face cache); the tiny random twin (a Qwen2 decoder with a
word-level tokenizer, built in code) runs the same path in tests and says nonsense.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.contract.errors import InputError, ModelNotAvailable
from workbench.tasks.rearrange.instruction import Goal, parse

#: the registry's default model for `parser="model"`
DEFAULT_MODEL = "qwen2.5-0.5b-instruct"

SYSTEM = (
    "You turn a person's request about objects on a table into one command for a robot. The command has "
    "this form: put the OBJECT [upright | upside down | on its side | with its handle pointing left | with its "
    "handle pointing right] [to the left of the OBJECT | right of the OBJECT | in front of the OBJECT | behind "
    "the OBJECT | on top of the OBJECT | between the OBJECT and the OBJECT | in the centre of the table]. "
    "Left, right, in front and behind are as seen by the person. Objects on the table: {names}. "
    "Answer with the command only."
)


class InstructionModel:
    """A causal language model and its tokenizer, moved and cast together (what `models.load` caches)."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model, self.tokenizer = model, tokenizer

    def to(self, device: str | None = None, dtype: Any = None) -> InstructionModel:
        self.model = self.model.to(device=device, dtype=dtype)
        return self

    def rewrite(self, text: str, names: list[str], max_new_tokens: int = 40) -> str:
        """The model's one-line command for `text` (greedy: same text, same command)."""
        import torch

        messages = [{"role": "system", "content": SYSTEM.format(names=", ".join(names))},
                    {"role": "user", "content": text}]
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        if not isinstance(ids, torch.Tensor):  # newer transformers return a BatchEncoding
            ids = ids["input_ids"]
        ids = ids.to(self.model.device)
        with torch.inference_mode():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                      do_sample=False, pad_token_id=self.tokenizer.pad_token_id)
        answer = self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
        return answer.splitlines()[0].strip().strip('"') if answer else ""


def load_instruction_lm(path: Path | None, device: str, dtype: str) -> InstructionModel:
    """The real loader: transformers' Auto classes from the cached snapshot."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path is None:
        raise ModelNotAvailable("The instruction model's weights are not in the cache.")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
    return InstructionModel(model.to(device), tokenizer)


TINY_WORDS = ("<unk> <pad> <s> </s> <|system|> <|user|> <|assistant|> put place move turn stand lay the a mug can "
              "box ball bar cup upright upside down on its side with handle pointing left right to of in front "
              "behind top between and centre table")


def tiny_instruction_lm(seed: int = 0) -> InstructionModel:
    """A tiny random Qwen2 decoder with a word-level tokenizer and a chat template, as
    `AutoModelForCausalLM` / `AutoTokenizer` load it (tests and teaching; its answers are noise)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from workbench.tasks.word_tokenizer import word_level_tokenizer

    tokenizer, vocab = word_level_tokenizer(TINY_WORDS.split(), bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                               "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    config = Qwen2Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=vocab["<pad>"], bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"],
                         tie_word_embeddings=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).eval()
    return InstructionModel(model, tokenizer)


def load_tiny_instruction_lm(path: Path | None, device: str, dtype: str) -> InstructionModel:
    import torch

    return tiny_instruction_lm(seed=0).to(device, getattr(torch, dtype))


def read(text: str, scene: Any, model: InstructionModel, model_id: str) -> tuple[Goal, str]:
    """(goal, the model's command) for free `text`; refused in one sentence when the rules refuse
    what the model wrote."""
    command = model.rewrite(text, scene.names())
    if not command:
        raise InputError(f"The language model {model_id!r} gave no command for {text.strip()[:120]!r}; "
                         "say it with the templates (e.g. 'put the can left of the box') and parser=rules.")
    try:
        goal = parse(command, scene)
    except InputError as exc:
        raise InputError(f"The language model {model_id!r} read {text.strip()[:120]!r} as {command[:160]!r}, "
                         f"which the rule parser refuses ({exc}).") from None
    return Goal(goal.object, goal.relations, goal.rotation, text.strip()), command
