"""similar: cosine similarity of the output's embedding and `value`'s (default: `expected`).

Embeddings come from (a) `model: <provider>/<embedding model>`, the provider's embeddings
endpoint (`POST /v1/embeddings` on OpenAI-compatible servers), through the engine like any call,
so they are cached and replayed; or (b) with no `model`, the offline `similar` extra: WordLlama,
whose weights ship inside its wheel, loaded with downloads disabled (it never reaches a hub).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from promptctl.errors import UsageError
from promptctl.model import EMBEDDING_FORMAT, Case, Reply, Request, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext, as_text, render_value

DEFAULT_THRESHOLD = 0.75  # promptfoo's default for `similar`
EXTRA = "pip install 'promptctl-cli[similar]'"


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b) or not a:
        raise ValueError(f"embeddings of different sizes ({len(a)} and {len(b)})")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@cache
def offline_model() -> Any:
    """WordLlama from the `similar` extra, its bundled weights only; None if not installed."""
    try:
        import wordllama
    except ImportError:
        return None
    # cache_dir = the package's own directory, where the wheel puts weights and tokenizer;
    # disable_download: a missing file is an error, never a fetch.
    return wordllama.WordLlama.load(
        cache_dir=Path(wordllama.__file__).parent, disable_download=True
    )


@dataclass(frozen=True, slots=True)
class Similar:
    spec: ScorerSpec
    threshold: float
    model: str | None  # <provider>/<embedding model>; None = the offline extra
    engine: Any = None
    partials_dir: str | None = None

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        t = spec.options.get("threshold", DEFAULT_THRESHOLD)
        if isinstance(t, bool) or not isinstance(t, int | float) or not -1 <= t <= 1:
            yield "PC004", "similar `threshold` must be a cosine similarity in [-1, 1]", "threshold"
        model = spec.options.get("model")
        if model is not None and (not isinstance(model, str) or "/" not in model):
            yield "PC004", "similar `model` must be <provider>/<embedding model>", "model"

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        model = spec.options.get("model")
        if model is None and offline_model() is None:
            raise UsageError(
                f"scorer {spec.id!r}: similar needs embeddings: no `model:` and the `similar` "
                "extra is not installed",
                where=spec.source,
                hint=f"{EXTRA} (offline, no API key), or an embeddings endpoint: "
                "`model: openai/text-embedding-3-small`",
            )
        return cls(
            spec=spec,
            threshold=float(spec.options.get("threshold", DEFAULT_THRESHOLD)),
            model=str(model) if model is not None else None,
            engine=ctx.engine,
            partials_dir=ctx.partials_dir,
        )

    async def embed(self, text: str) -> list[float]:
        assert self.model is not None
        provider, _, name = self.model.partition("/")
        request = Request(
            provider=provider,
            model=name,
            messages=({"role": "user", "content": text},),
            response_format=EMBEDDING_FORMAT,
        )
        reply = await self.engine.complete(request)
        vector = json.loads(reply.text)
        if not isinstance(vector, list):
            raise ValueError(f"{self.model}: the embedding is not a list of numbers")
        return [float(x) for x in vector]

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        source = self.spec.value if self.spec.value is not None else "{{ expected }}"
        want = as_text(render_value(source, case, self.spec, self.partials_dir))
        if self.model is None:
            similarity = float(offline_model().similarity(reply.text, want))
        else:
            if self.engine is None:
                raise RuntimeError("similar needs an engine")
            similarity = cosine(await self.embed(reply.text), await self.embed(want))
        passed = similarity >= self.threshold
        return Score(
            value=max(0.0, min(1.0, similarity)),
            passed=passed,
            reason=f"cosine {similarity:.3f} {'>=' if passed else '<'} {self.threshold:g}",
        )
