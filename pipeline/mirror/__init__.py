"""The journal mirror: journal -> DynamoDB, idempotent per (thread_id, seq_nr).

See docs/architecture.md, Journal mirror, and docs/adr/0005.

Pure parts (items, plan, retry policy, verify's fold) are separate from the thin I/O around
them (writer, dead letters, consumer loop, read side). Importing this package opens nothing.
"""

# The mirror's consumer group (named in its KafkaUser ACLs).
GROUP_ID = "threadweaver-mirror"
