"""moto's server: the DynamoDB API of the stack, and the S3 API the broker stores its log in."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pipeline
from pipeline.stack.layout import Layout
from pipeline.stack.ports import LOOPBACK
from pipeline.stack.process import ProcessRecord, ProcessSpec
from pipeline.stack.readiness import wait_until_answers

NAME = "moto"
# moto accepts any credentials; fixed dummies keep a developer's real AWS keys out of its way.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def endpoint_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server: ours without AWS settings that could point it elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_CREDENTIALS)
    # The runner is `python -m pipeline...`: keep it importable even from a plain checkout.
    source_root = str(Path(pipeline.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


def spec(layout: Layout, port: int, region: str) -> ProcessSpec:
    return ProcessSpec(
        name=NAME,
        argv=(
            sys.executable,
            "-m",
            "pipeline.stack.moto_runner",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--state-dir",
            str(layout.moto),
            "--region",
            region,
        ),
        log_path=layout.log(NAME),
        env=server_env(),
        cwd=layout.root,
        stop_signal=signal.SIGTERM,
        # It writes its snapshot on the way out; killing it early would lose the broker's log.
        stop_timeout=300.0,
    )


def client(service: str, endpoint: str, region: str, timeout: float = 5.0) -> Any:
    import boto3  # noqa: PLC0415 - costs most of a second; `stack env` never needs it
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1}),
    )


def wait_ready(
    endpoint: str, region: str, timeout: float, record: ProcessRecord | None = None
) -> None:
    dynamodb = client("dynamodb", endpoint, region, timeout=2.0)
    wait_until_answers(
        f"moto (DynamoDB ListTables on {endpoint})",
        dynamodb.list_tables,
        timeout=timeout,
        record=record,
    )


def ensure_bucket(endpoint: str, region: str, bucket: str) -> None:
    s3 = client("s3", endpoint, region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
