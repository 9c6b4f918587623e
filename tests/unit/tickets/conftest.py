"""Pytest fixtures for the ticket-domain tests."""

from __future__ import annotations

import pytest
from touchpoint.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog("ecommerce")
