"""The DynamoDB client of the mirror and of the `journal`/`dynamodb` commands.

Real AWS: region from AWS_REGION, credentials from boto3's default chain (environment,
shared config, container or instance role, IRSA's web identity token). The endpoint override
(THREADWEAVER_DYNAMODB_ENDPOINT) is for local servers only; there, and only there, dummy
credentials stand in when the chain finds none, since local servers accept any.
"""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings

LOCAL_DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def dynamodb_client(
    settings: Settings, *, pool: int = 10, timeout_s: float = 10.0, sdk_attempts: int = 1
) -> Any:
    """`sdk_attempts` > 1 lets botocore retry (for the read commands); the mirror keeps 1."""
    # boto3 costs most of a second to import: only commands that talk to DynamoDB pay for it.
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415

    session = boto3.session.Session()
    config = Config(
        # The mirror has one retry layer, its own (pipeline/mirror/writer.py): it counts
        # throttles and retries, backs off with jitter, and knows which errors are the item's.
        retries={"total_max_attempts": sdk_attempts, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        tcp_keepalive=True,
    )
    extra: dict[str, str] = {}
    if settings.dynamodb_endpoint is not None:
        extra["endpoint_url"] = settings.dynamodb_endpoint
        if session.get_credentials() is None:
            extra.update(LOCAL_DUMMY_CREDENTIALS)
    return session.client("dynamodb", region_name=settings.aws_region, config=config, **extra)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError; None for other failures (network...)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None
