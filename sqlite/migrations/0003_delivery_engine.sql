-- The delivery engine's bookkeeping (issue 4).

-- The SMTP reply code of a delivery's last attempt (0: none, e.g. a dropped
-- connection), so failures can be grouped without parsing last_reply.
ALTER TABLE deliveries ADD COLUMN last_code INTEGER NOT NULL DEFAULT 0;

-- Who is sending an edition ("host pid 1234"), for operators; the lease
-- itself is an flock on a file beside the database, released by the kernel
-- when its holder dies.
ALTER TABLE editions ADD COLUMN sender TEXT NOT NULL DEFAULT '';

-- Why an edition was paused, e.g. "relay refused 50 messages in a row".
ALTER TABLE editions ADD COLUMN pause_reason TEXT NOT NULL DEFAULT '';

-- Due retries are found by time.
CREATE INDEX deliveries_retry ON deliveries (edition_id, next_attempt_at) WHERE status = 'retry';
