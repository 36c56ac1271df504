"""Client library: build commands, produce them to Kafka, await their replies."""

from pipeline.client.client import CommandClient, ReplyTimeoutError, SyncCommandClient
from pipeline.client.commands import CommandFactory

__all__ = ["CommandClient", "CommandFactory", "ReplyTimeoutError", "SyncCommandClient"]
