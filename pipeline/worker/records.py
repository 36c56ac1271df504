"""What the worker adds to the shared Record: its producer's record-size allowance."""

from __future__ import annotations

# A dead letter is the command record plus its reason headers (at most ~4.4 kB,
# pipeline/kafka/dead_letters.py), so with the
# limit every client has (librdkafka's message.max.bytes, 1,000,000 bytes) the copy of a record
# a client could just write would be refused, and the worker would stop on that record after
# every restart. The worker's producer takes 1 MiB: room for the headers, and still under
# Apache Kafka's default record limit of a broker and topic (1,048,588 bytes).
WORKER_PRODUCER_CONFIG = {"message.max.bytes": 1_048_576}
