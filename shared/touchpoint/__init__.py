"""Touchpoint: the domain package shared by every Lambda function (deployed as a layer).

One folder per capability (``surveys``, ``tickets``, ``rollups``, ``scorecards``, ``customers``), each
with at most one DynamoDB module, its ``store``; ``platform`` holds what they share (HTTP edge,
settings, table keys, DynamoDB helpers, secrets, event bus); ``metrics`` every metric definition;
``runtime`` builds what each function needs. docs/architecture.md has the layering rule.
"""

__version__ = "0.1.0"
