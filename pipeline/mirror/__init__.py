"""The journal mirror: journal -> DynamoDB, idempotent per (thread_id, seq_nr) (ARCHITECTURE §4.2).

Pure parts (items, plan, retry policy, verify's fold) are separate from the thin I/O around
them (writer, dead letters, consumer loop, read side). Importing this package opens nothing.
"""
