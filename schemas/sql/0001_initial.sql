-- The read model of threads (docs/architecture.md, HTTP API), written only by the projector.
-- Applied once by pipeline/stack/migrate.py inside a transaction: no BEGIN/COMMIT here.
-- Identifiers are ULIDs (26 chars); the database uses C collation, so ordering by id is
-- bytewise, which for ULIDs is creation order: the cursors page on (thread_id, id).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE threads (
    id               text        PRIMARY KEY,
    creator_id       text        NOT NULL,
    parent_thread_id text        NULL,
    title            text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
    remarks          text        NULL CHECK (remarks IS NULL OR char_length(remarks) <= 255),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    destroyed_at     timestamptz NULL,
    -- The seq_nr of the last event applied: the projector's idempotency check and the
    -- version queries compare against (min_version).
    version          bigint      NOT NULL CHECK (version >= 1)
);

-- Child threads of a parent (no foreign key: a parent may be projected after its child
-- was created from another partition).
CREATE INDEX threads_parent_thread_id_idx ON threads (parent_thread_id)
    WHERE parent_thread_id IS NOT NULL;

CREATE TABLE thread_administrators (
    thread_id  text        NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    account_id text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    PRIMARY KEY (thread_id, account_id)
);

-- "Threads this account administers": the membership lookup behind visibility and lists.
CREATE INDEX thread_administrators_account_id_idx ON thread_administrators (account_id, thread_id);

CREATE TABLE thread_members (
    thread_id  text        NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    account_id text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    PRIMARY KEY (thread_id, account_id)
);

CREATE INDEX thread_members_account_id_idx ON thread_members (account_id, thread_id);

CREATE TABLE messages (
    thread_id        text        NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    id               text        NOT NULL,
    sender_id        text        NOT NULL,
    text             text        NOT NULL CHECK (char_length(text) BETWEEN 1 AND 4096),
    reply_message_id text        NULL,
    to_account_ids   text[]      NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    removed_at       timestamptz NULL,
    removed_by       text        NULL,
    PRIMARY KEY (thread_id, id),
    CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);

-- Paging live messages of a thread in (thread_id, id) order without visiting removed ones.
CREATE INDEX messages_live_idx ON messages (thread_id, id) WHERE removed_at IS NULL;
-- Replies to a message, and messages addressed to an account.
CREATE INDEX messages_reply_message_id_idx ON messages (thread_id, reply_message_id)
    WHERE reply_message_id IS NOT NULL;
CREATE INDEX messages_to_account_ids_idx ON messages USING gin (to_account_ids);
