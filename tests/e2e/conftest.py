"""End-to-end fixtures: `touchpoint local` started as a user would, on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from touchpoint_local.testing import RunningStack, running_stack


@pytest.fixture(scope="session")
def local_stack(dynamodb_backend: str) -> Iterator[RunningStack]:
    """The stack of the whole session, per DynamoDB backend (it raises with the end of its output if it
    does not start)."""
    with running_stack(dynamodb=dynamodb_backend) as stack:
        yield stack
