"""The performance measures of the README's bars, run together by ``python -m benchmarks [--quick]``.

One module per measure; each exposes ``measure(quick: bool, **sizes) -> list[dict]`` returning the JSON
lines it prints. ``common`` holds the shared moto setup and the DynamoDB request counter.
"""
