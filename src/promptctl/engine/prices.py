"""Built-in prices (USD per million tokens) of common models; `prices:` in promptctl.yaml wins.

Published list prices as of 2025. A model missing here has an unknown price: cost `null`, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping

# (input, output) per million tokens, keyed by "<provider>/<model id>". A dated or suffixed id
# (gpt-4o-2024-08-06, claude-3-5-sonnet-20241022) takes the price of its longest listed prefix.
BUILTIN: dict[str, tuple[float, float]] = {
    "openai/gpt-5": (1.25, 10.00),
    "openai/gpt-5-mini": (0.25, 2.00),
    "openai/gpt-5-nano": (0.05, 0.40),
    "openai/gpt-4.1": (2.00, 8.00),
    "openai/gpt-4.1-mini": (0.40, 1.60),
    "openai/gpt-4.1-nano": (0.10, 0.40),
    "openai/gpt-4o": (2.50, 10.00),
    "openai/gpt-4o-mini": (0.15, 0.60),
    "openai/gpt-4-turbo": (10.00, 30.00),
    "openai/gpt-3.5-turbo": (0.50, 1.50),
    "openai/o1": (15.00, 60.00),
    "openai/o1-mini": (1.10, 4.40),
    "openai/o3": (2.00, 8.00),
    "openai/o3-mini": (1.10, 4.40),
    "openai/o4-mini": (1.10, 4.40),
    "anthropic/claude-opus-4-1": (15.00, 75.00),
    "anthropic/claude-opus-4": (15.00, 75.00),
    "anthropic/claude-sonnet-4-5": (3.00, 15.00),
    "anthropic/claude-sonnet-4": (3.00, 15.00),
    "anthropic/claude-haiku-4-5": (1.00, 5.00),
    "anthropic/claude-3-7-sonnet": (3.00, 15.00),
    "anthropic/claude-3-5-sonnet": (3.00, 15.00),
    "anthropic/claude-3-5-haiku": (0.80, 4.00),
    "anthropic/claude-3-opus": (15.00, 75.00),
    "anthropic/claude-3-haiku": (0.25, 1.25),
}


def price(
    model: str, overrides: Mapping[str, Mapping[str, float]] | None = None
) -> tuple[float, float] | None:
    """(input, output) USD per million tokens of `model` ("<provider>/<id>"), or None."""
    if overrides and model in overrides:
        entry = overrides[model]
        return float(entry["input"]), float(entry["output"])
    if model in BUILTIN:
        return BUILTIN[model]
    best = None
    for known in BUILTIN:
        if model.startswith(known + "-") and (best is None or len(known) > len(best)):
            best = known
    return BUILTIN[best] if best else None


BATCH_DISCOUNT = 0.5  # OpenAI Batch and Anthropic Message Batches: half the live price


def batch_price(
    model: str, overrides: Mapping[str, Mapping[str, float]] | None = None
) -> tuple[float, float] | None:
    """(input, output) USD per million tokens through the batch API: `batch_input` /
    `batch_output` of a `prices:` entry, else the live price at BATCH_DISCOUNT."""
    live = price(model, overrides)
    if live is None:
        return None
    entry = (overrides or {}).get(model, {})
    return (
        float(entry.get("batch_input", live[0] * BATCH_DISCOUNT)),
        float(entry.get("batch_output", live[1] * BATCH_DISCOUNT)),
    )


def cost_usd(
    prices: tuple[float, float] | None, input_tokens: int | None, output_tokens: int | None
) -> float | None:
    """USD for one call; None when the price or a token count is unknown."""
    if prices is None or input_tokens is None or output_tokens is None:
        return None
    return (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000


def known_sum(*amounts: float | None) -> float | None:
    """The total of amounts of money; None when any is unknown (a model without a price): a
    total is never a silent 0 for what could not be priced."""
    if any(a is None for a in amounts):
        return None
    return float(sum(a for a in amounts if a is not None))
