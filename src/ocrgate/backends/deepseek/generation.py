"""Generation controls for the transformers engine: vLLM's n-gram repetition ban, per-row budgets.

The ban comes twice, with the same bans: `NGramRepeatBan`, a logits processor for `model.generate`,
and `ngram_ban`, the same rule on the static decoder's fixed shapes (tested against each other in
tests/backends/deepseek/test_static_decode.py). All run on the tensors' device, with no copy to the
host at any step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class NGramRepeatBan:
    """A transformers logits processor with vLLM's DeepSeek-OCR n-gram rule.

    Over the last `window_size` *generated* tokens (the prompt is not looked at), a token that would
    complete an n-gram of `ngram_size` tokens already present in that window is banned (its score
    set to -inf), unless it is in `whitelist`. `prompt_len` is where generation starts in
    `input_ids` (the same for every row: prompts are left-padded).
    """

    def __init__(
        self, ngram_size: int, window_size: int, whitelist: Sequence[int] = (), prompt_len: int = 0
    ) -> None:
        if ngram_size < 1 or window_size < 1:
            raise ValueError("ngram_size and window_size must be positive")
        self.ngram_size = ngram_size
        self.window_size = window_size
        self.whitelist = frozenset(whitelist)
        self.prompt_len = prompt_len

    def banned(self, tokens: Sequence[int]) -> set[int]:
        """Tokens that may not come next after generated `tokens`."""
        n, length = self.ngram_size, len(tokens)
        if length < n:
            return set()
        prefix = list(tokens[length - n + 1 :]) if n > 1 else []
        start = max(0, length - self.window_size)
        banned = {
            tokens[i + n - 1] for i in range(start, length - n + 1) if list(tokens[i : i + n - 1]) == prefix
        }
        return banned - self.whitelist

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """`banned()` for every row at once, on the tensors' device (no copy to the host, no sync)."""
        import torch

        n = self.ngram_size
        window = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window_size) :]
        length = window.shape[1]
        if length < n:
            return scores
        grams = window.unfold(1, n, 1)  # (rows, length - n + 1, n): every n-gram of the window
        prefix = window[:, length - n + 1 :]  # the last n - 1 tokens
        repeats = (grams[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)
        vocab = scores.shape[-1]
        # a repeat's last token is banned; the others point at a spare column past the vocabulary
        targets = torch.where(repeats, grams[:, :, n - 1], vocab).clamp_(max=vocab)
        banned = torch.zeros(scores.shape[0], vocab + 1, dtype=torch.bool, device=scores.device)
        banned.scatter_(1, targets, True)
        banned = banned[:, :vocab]
        if self.whitelist:
            allowed = [t for t in self.whitelist if 0 <= t < vocab]
            banned[:, torch.tensor(allowed, dtype=torch.long, device=scores.device)] = False
        return scores.masked_fill(banned, float("-inf"))


def ngram_ban(scores: Any, history: Any, gen_len: Any, n: int, window: int, allowed: Any) -> None:
    """vLLM's DeepSeek-OCR n-gram rule on fixed shapes, in place on `scores` (rows, vocab).

    `history` (rows, H) holds each row's generated tokens, `gen_len` (rows,) how many. Over the last
    `window` generated tokens, a token that would complete an n-gram already there is banned, unless
    `allowed` (vocab,) bool marks it whitelisted. Same bans as `NGramRepeatBan`.
    """
    import torch

    if window < n:
        return  # the window never holds n tokens: nothing is ever banned
    rows, vocab = scores.shape
    offsets = torch.arange(window, device=history.device)
    index = gen_len[:, None] - window + offsets[None, :]  # (rows, window) positions in history
    valid = index >= 0
    tokens = history.gather(1, index.clamp(min=0))
    grams = tokens.unfold(1, n, 1)  # (rows, window - n + 1, n)
    prefix = tokens[:, window - n + 1 :]  # the last n - 1 generated tokens
    repeats = (grams[:, :, : n - 1] == prefix[:, None, :]).all(dim=-1)
    repeats &= valid[:, : window - n + 1] & (gen_len >= n)[:, None]
    targets = torch.where(repeats, grams[:, :, n - 1], vocab)
    banned = torch.zeros(rows, vocab + 1, dtype=torch.bool, device=scores.device)
    banned.scatter_(1, targets, True)
    banned = banned[:, :vocab] & ~allowed[None, :]
    scores.masked_fill_(banned, float("-inf"))


class RowBudgets:
    """Stopping criterion: row i is done once it has generated `budgets[i]` tokens."""

    def __init__(self, budgets: Sequence[int], prompt_len: int, device: Any) -> None:
        import torch

        self.budgets = torch.tensor(list(budgets), device=device)
        self.prompt_len = prompt_len

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return (input_ids.shape[1] - self.prompt_len) >= self.budgets
