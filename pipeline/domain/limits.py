"""The numbers in the Thread rules (docs/architecture.md, The domain), in one place."""

from __future__ import annotations

TITLE_MAX = 255
REMARKS_MAX = 255
TEXT_MAX = 4096
LIVE_MESSAGES_MAX = 5000
# Bounds on one command, so a single record cannot make a decision arbitrarily expensive.
ACCOUNT_IDS_PER_COMMAND_MAX = 1000
MESSAGES_PER_COMMAND_MAX = 100
MESSAGE_IDS_PER_COMMAND_MAX = 1000
# The texts of one AddMessages, UTF-8 encoded: keeps every event far below Kafka's default
# 1 MB record limit and DynamoDB's 400 KB item limit, so an accepted command can always be
# appended and mirrored (a record the broker refuses would stop its partition).
MESSAGES_TEXT_BYTES_MAX = 256 * 1024
# The recipients of one AddMessages, all messages together: 100 messages x 1,000 recipients
# would make a 2.7 MB event. With this bound and the texts', an event stays under ~300 KB.
RECIPIENTS_PER_COMMAND_MAX = 1000
# How many accepted command ids a thread remembers to answer retries with the original reply.
RECENT_COMMANDS_MAX = 512
