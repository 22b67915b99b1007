"""The call engine: concurrency, retries, budget, cache, prices, HTTP clients."""
