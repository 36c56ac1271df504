"""Kafka plumbing shared by every component: client configuration, partitioning, async
producer. No business rules here."""
