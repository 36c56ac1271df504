"""dynalite, the embedded stack's DynamoDB-API server, holds to the DynamoDB contract
(tests/contracts/dynamodb.py), which the in-memory stand-in is held to as well.

One server for the module (on its own store, without the rest of the stack), a new table for
each case.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipeline.stack import dynamodb_server
from pipeline.stack.dynamodb import ensure_table, load_definition
from pipeline.stack.layout import Layout
from pipeline.stack.ports import free_port
from pipeline.stack.process import spawn, stop
from tests.contracts.dynamodb import DynamoDBContract

pytestmark = pytest.mark.integration

REGION = "us-east-1"
DEFINITION = Path(__file__).resolve().parents[2] / "schemas" / "dynamodb" / "journal-table.json"
_tables = itertools.count(1)


@dataclass(frozen=True)
class Dynalite:
    endpoint: str
    client: Any


@pytest.fixture(scope="module")
def dynalite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dynalite]:
    dynamodb_server.ensure_installed()
    layout = Layout.of(tmp_path_factory.mktemp("dynalite"))
    port = free_port()
    record = spawn(dynamodb_server.spec(layout, port, REGION), layout.run)
    try:
        endpoint = dynamodb_server.endpoint_url(port)
        dynamodb_server.wait_ready(endpoint, REGION, 30.0, record)
        yield Dynalite(endpoint, dynamodb_server.client("dynamodb", endpoint, REGION, 30.0))
    finally:
        stop(record, layout.run)


@dataclass(frozen=True)
class DynaliteHarness:
    client: Any
    table: str


class TestDynalite(DynamoDBContract):
    @pytest.fixture
    def harness(self, dynalite: Dynalite) -> Iterator[DynaliteHarness]:
        table = f"contract-{next(_tables)}"
        assert ensure_table(dynalite.endpoint, REGION, load_definition(DEFINITION, table))
        yield DynaliteHarness(dynalite.client, table)
        dynalite.client.delete_table(TableName=table)
