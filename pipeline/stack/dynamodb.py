"""The journal mirror's DynamoDB table, created from schemas/dynamodb/journal-table.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.stack.dynamodb_server import client
from pipeline.stack.errors import StackError


def load_definition(path: Path, table_name: str) -> dict[str, Any]:
    """The CreateTable input in the file, with the table name the settings ask for."""
    definition: dict[str, Any] = json.loads(path.read_text())
    definition["TableName"] = table_name
    return definition


def _key_schema(definition: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in definition["KeySchema"])


# dynalite makes a table ACTIVE on a timer after CreateTable (10 ms for the stack); a server
# killed before it fired keeps the table CREATING for ever.
STUCK_AFTER_S = 5.0


def ensure_table(endpoint: str, region: str, definition: dict[str, Any]) -> bool:
    """Create the table on the local server unless it exists with the same key; a table left
    CREATING by a server killed mid-creation is reported with what to do."""
    return ensure_table_with(
        client("dynamodb", endpoint, region, timeout=10.0), definition, local=True
    )


def ensure_table_with(
    dynamodb: Any,
    definition: dict[str, Any],
    *,
    delay_s: float = 0.2,
    max_attempts: int = 100,
    local: bool = False,
) -> bool:
    """Create the table unless it exists with the same key; True if it was created.

    `dynamodb` is any boto3 DynamoDB client (the local server's, or real AWS's for
    `threadweaver dynamodb create-table`); the wait is for the table to become ACTIVE.
    """
    name = definition["TableName"]
    try:
        existing = dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        existing = None
    if existing is not None:
        if _key_schema(existing) != _key_schema(definition):
            raise StackError(
                f"DynamoDB table {name} exists with key {_key_schema(existing)}, "
                f"expected {_key_schema(definition)}"
            )
        if existing.get("TableStatus") != "CREATING" or not local:
            return False
        from botocore.exceptions import WaiterError  # noqa: PLC0415 - slow; rarely needed

        attempts = max(1, int(STUCK_AFTER_S / delay_s))
        try:
            dynamodb.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": delay_s, "MaxAttempts": attempts}
            )
        except WaiterError:
            # dynalite refuses to delete a table that is being created, and never finishes
            # creating it after a restart. It was never ACTIVE, so it never held an item.
            raise StackError(
                f"DynamoDB table {name} is stuck in CREATING: its server was killed while "
                f"creating it, before any item could be written. Stop the stack, remove the "
                f"server's store (DATA_DIR/dynamodb) and run `stack up` again"
            ) from None
        return False
    try:
        dynamodb.create_table(**definition)
    except dynamodb.exceptions.ResourceInUseException:
        return False  # created concurrently
    dynamodb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": delay_s, "MaxAttempts": max_attempts}
    )
    return True
