-- What the projector (pipeline/projector, docs/adr/0006) needs beyond the read model of 0001.
-- Applied once by pipeline/stack/migrate.py inside a transaction: no BEGIN/COMMIT here.

-- The read model holds whatever the journal says. Evolve never validates, so history written
-- under older (or newer) rules must still project: a length rule here would stop the projector
-- on an event the domain once accepted. The rules live in the domain, once.
ALTER TABLE threads DROP CONSTRAINT IF EXISTS threads_title_check;
ALTER TABLE threads DROP CONSTRAINT IF EXISTS threads_remarks_check;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_text_check;

-- One row per applied event: the identity of what was applied at each (thread_id, seq_nr),
-- written in the same transaction as its effects. A journal record at an applied seq_nr is a
-- harmless re-append when its event_id matches, and a conflict (alarm, dead letter) when not.
CREATE TABLE thread_events (
    thread_id         text        NOT NULL,
    seq_nr            bigint      NOT NULL CHECK (seq_nr >= 1),
    event_id          text        NOT NULL,
    command_id        text        NOT NULL,
    event_type        text        NOT NULL,
    occurred_at       timestamptz NOT NULL,
    -- Where the applied copy was read: the evidence to look at when a conflict is reported.
    journal_partition integer     NOT NULL,
    journal_offset    bigint      NOT NULL,
    applied_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, seq_nr)
);

-- Threads the projector stopped applying because the journal skipped a version (a gap), began
-- without ThreadCreated, or held an event the database refused. Their read model stays at
-- `version` (an honest "stale" for min_version queries) until `threadweaver projector rebuild`.
CREATE TABLE projector_parked_threads (
    thread_id         text        PRIMARY KEY,
    reason            text        NOT NULL,
    detail            text        NOT NULL,
    -- The last seq_nr applied (0: the thread was never created in the read model).
    version           bigint      NOT NULL,
    -- The first event not applied.
    found_seq_nr      bigint      NOT NULL,
    found_event_id    text        NOT NULL,
    journal_partition integer     NOT NULL,
    journal_offset    bigint      NOT NULL,
    parked_at         timestamptz NOT NULL DEFAULT now(),
    -- Journal records of the thread skipped since (including the first), for the alarm.
    skipped_events    bigint      NOT NULL DEFAULT 0,
    last_skipped_seq_nr bigint    NULL
);

-- Visibility (docs/architecture.md, HTTP API): an account sees a thread it administers or is a member of.
-- Each branch is served by the (account_id, thread_id) index of its table.
CREATE VIEW thread_participants AS
    SELECT thread_id, account_id FROM thread_administrators
    UNION
    SELECT thread_id, account_id FROM thread_members;
