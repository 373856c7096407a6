"""Next-token sampling of the language models: temperature, top-k and top-p (nucleus).

Written once for any framework with PyTorch's API (``sampling(ember)``, ``sampling(torch)``),
so that ember's models and their PyTorch twins draw tokens the same way.
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace
from typing import Any

from ember.models.neutral import family

__all__ = ["sampling", "check_temperature"]


def check_temperature(op: str, temperature: float) -> None:
    """Reject a sampling temperature that is not positive (greedy decoding is top_k=1)."""
    if temperature <= 0:
        raise ValueError(
            f"{op}: temperature must be positive: {temperature}\n"
            "hint: use top_k=1 for greedy decoding"
        )


@family
def sampling(torch: ModuleType) -> SimpleNamespace:
    """``filter_logits``, ``sample_next`` and the ``Generation`` mixin for the framework
    ``torch`` (ember or torch)."""
    F = torch.nn.functional

    def filter_logits(logits: Any, top_k: int | None = None, top_p: float | None = None) -> Any:
        """``logits`` (B, vocab) with every token outside the top-k and the top-p nucleus at -inf.

        The nucleus is the smallest set of most likely tokens whose probability reaches
        ``top_p`` (Holtzman et al., 2020); the most likely token is always kept.
        """
        if top_k is not None:
            if top_k < 1:
                raise ValueError(f"GPT.generate: top_k must be at least 1: {top_k}")
            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1)[0][..., -1:]  # (B, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if top_p is not None:
            if not 0.0 < top_p <= 1.0:
                raise ValueError(f"GPT.generate: top_p must be in (0, 1]: {top_p}")
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = F.softmax(sorted_logits, dim=-1)
            drop_sorted = probs.cumsum(dim=-1) - probs >= top_p  # the mass before reaches top_p
            drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
            logits = logits.masked_fill(drop, float("-inf"))
        return logits

    def sample_next(
        logits: Any,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        generator: Any = None,
    ) -> Any:
        """One token (B, 1) per row of ``logits`` (B, vocab): softmax(logits / temperature)
        restricted by ``filter_logits``, drawn with ``generator``."""
        logits = filter_logits(logits / temperature, top_k, top_p)
        return torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)

    class Generation:
        """``generate`` for a language model (a mixin before ``nn.Module``): each new token is
        drawn from the logits of ``self.next_logits_fn(batch, **options)(sequence so far)``."""

        @torch.no_grad()
        def generate(
            self,
            idx: Any,
            max_new_tokens: int,
            temperature: float = 1.0,
            top_k: int | None = None,
            top_p: float | None = None,
            generator: Any = None,
            **options: Any,
        ) -> Any:
            """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled tokens → (B, T + new).

            Sampling is from softmax(logits / temperature) restricted to the ``top_k`` most
            likely tokens and/or the nucleus of probability ``top_p``; ``top_k=1`` is greedy
            decoding. Call ``model.eval()`` first when the model has dropout. ``options`` are
            the model's own (``next_logits_fn``'s), e.g. GPT's ``use_cache`` and ``jit``.
            """
            check_temperature(f"{type(self).__name__}.generate", temperature)
            next_logits = self.next_logits_fn(idx.shape[0], **options)
            for _ in range(max_new_tokens):
                idx_next = sample_next(next_logits(idx), temperature, top_k, top_p, generator)
                idx = torch.cat([idx, idx_next], dim=1)
            return idx

    return SimpleNamespace(
        filter_logits=filter_logits, sample_next=sample_next, Generation=Generation
    )
