"""What a run spends: prices per model, cost estimates, the --max-cost budget, the tally."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from promptctl.engine import prices
from promptctl.errors import BudgetError
from promptctl.model import Reply, Request
from promptctl.providers.base import Completion

ESTIMATE_OUTPUT_TOKENS = 256  # dry-run / budget guess when params set no max_tokens


@dataclass(slots=True)
class EngineStats:
    """What this run spent. Cache hits cost nothing and are counted apart."""

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    priced_cost_usd: float = 0.0  # the calls whose price is known
    unpriced_calls: int = 0
    by_model: dict[str, int] = field(default_factory=dict)
    batch_calls: int = 0  # answered through a provider batch, at its price
    # what those calls would have cost live, less what they cost; None: a model had no price
    batch_saved_usd: float | None = 0.0

    @property
    def cost_usd(self) -> float | None:
        """Total spend, or None when a call's price is unknown (never a silent 0)."""
        return None if self.unpriced_calls else self.priced_cost_usd


class Budget:
    """Prices, estimates and the spend of one run; refuses a call that would pass the cap."""

    def __init__(
        self, configured: Mapping[str, Mapping[str, float]], max_cost_usd: float | None
    ) -> None:
        self.configured = configured
        self.max_cost_usd = max_cost_usd
        self.stats = EngineStats()
        self._reserved_usd = 0.0  # estimates of the calls in flight
        self._prices: dict[str, tuple[float, float] | None] = {}

    def price(self, request: Request) -> tuple[float, float] | None:
        """USD per million (input, output) tokens for the request's model; None = unknown."""
        model = f"{request.provider}/{request.model}"
        if model not in self._prices:  # the prefix scan runs once per model, not per call
            self._prices[model] = prices.price(model, self.configured)
        return self._prices[model]

    def batch_price(self, request: Request) -> tuple[float, float] | None:
        """The batch API's price for the request's model (half the live one by default)."""
        return prices.batch_price(f"{request.provider}/{request.model}", self.configured)

    def estimate(self, request: Request, *, batch: bool = False) -> float | None:
        """A network call's cost before making it (max_tokens as the output); None = unknown."""
        chars = sum(len(m["content"]) for m in request.messages)
        out = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
        out_tokens = out if isinstance(out, int) else ESTIMATE_OUTPUT_TOKENS
        rate = self.batch_price(request) if batch else self.price(request)
        return prices.cost_usd(rate, chars // 4 + 4 * len(request.messages), out_tokens)

    def reserve(self, request: Request, on_refusal: Callable[[], None]) -> float:
        """Hold the call's estimate while it is in flight (give it back with `release`), or
        refuse it past the cap; `on_refusal` runs before the BudgetError (the engine stops)."""
        estimate = self.estimate(request)
        if self.max_cost_usd is not None and estimate is not None:
            spent = self.stats.priced_cost_usd + self._reserved_usd
            if spent + estimate > self.max_cost_usd:
                on_refusal()
                raise BudgetError(
                    f"budget of ${self.max_cost_usd:.4f} reached: spent ${spent:.4f}, the next "
                    f"call to {request.provider}/{request.model} would cost about "
                    f"${estimate:.4f}",
                    hint="raise --max-cost (or gate.max_cost_usd), or evaluate fewer cases",
                )
        held = estimate or 0.0
        self._reserved_usd += held
        return held

    def release(self, held: float) -> None:
        """Give back what `reserve` held, once the call has finished or failed."""
        self._reserved_usd -= held

    def record(
        self,
        request: Request,
        c: Completion,
        latency_s: float,
        retries: int,
        price: tuple[float, float] | None,
    ) -> Reply:
        """Count a finished call and turn its completion into the Reply the run keeps."""
        cost = prices.cost_usd(price, c.input_tokens, c.output_tokens)
        s = self.stats
        s.calls += 1
        s.input_tokens += c.input_tokens or 0
        s.output_tokens += c.output_tokens or 0
        s.latency_s += latency_s
        label = f"{request.provider}/{request.model}"
        s.by_model[label] = s.by_model.get(label, 0) + 1
        if cost is None:
            s.unpriced_calls += 1
        else:
            s.priced_cost_usd += cost
        return Reply(
            # a lone surrogate (a "\ud800" escape in the provider's JSON) cannot be stored as
            # UTF-8 in the cache or results; valid pairs join, lone ones become U+FFFD
            text=c.text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"),
            model=c.model or request.model,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            latency_s=latency_s,
            cost_usd=cost,
            retries=retries,
            finish_reason=c.finish_reason,
        )
