-- Local-time delivery (issue 8): a local schedule ("local 07:00") mails
-- each subscriber that day's edition at 07:00 in their own time zone.

-- When each subscriber of each local schedule is next due, and for which
-- edition (local_date, the date in zone). The ticker finds the due rows
-- through local_due_at (never a scan), hands them to the delivery ledger and
-- advances each row to the subscriber's next local date in the same
-- transaction. The key leads with the subscriber so that deleting one
-- (ON DELETE CASCADE) finds its rows through the key.
CREATE TABLE local_due (
	subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	schedule_id   INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
	zone          TEXT NOT NULL,     -- IANA name the time was computed in
	minute        INTEGER NOT NULL,  -- local time of day, minutes after midnight
	due_at        TEXT NOT NULL,     -- UTC
	local_date    TEXT NOT NULL,     -- YYYY-MM-DD in zone: the edition it is due for
	PRIMARY KEY (subscriber_id, schedule_id)
) WITHOUT ROWID;
CREATE INDEX local_due_at ON local_due (schedule_id, due_at);
-- The dashboard's per-zone progress of one date.
CREATE INDEX local_due_date ON local_due (schedule_id, local_date, zone, due_at);

-- The spec each local schedule's rows were computed for: a changed spec
-- rebuilds them.
CREATE TABLE local_schedules (
	schedule_id INTEGER PRIMARY KEY REFERENCES schedules (id) ON DELETE CASCADE,
	spec        TEXT NOT NULL,
	built_at    TEXT NOT NULL
);

-- Subscribers whose due times must be recomputed: new ones, and those whose
-- status, zone or preferred hour changed. The triggers keep the subscriber
-- code unaware of local delivery; the ticker drains the table.
CREATE TABLE local_dirty (subscriber_id INTEGER PRIMARY KEY);
CREATE TRIGGER local_dirty_new AFTER INSERT ON subscribers
BEGIN
	INSERT OR IGNORE INTO local_dirty (subscriber_id) VALUES (NEW.id);
END;
CREATE TRIGGER local_dirty_changed AFTER UPDATE OF status, timezone, preferred_hour ON subscribers
	WHEN OLD.status IS NOT NEW.status OR OLD.timezone IS NOT NEW.timezone OR OLD.preferred_hour IS NOT NEW.preferred_hour
BEGIN
	INSERT OR IGNORE INTO local_dirty (subscriber_id) VALUES (NEW.id);
END;

-- The zone a local delivery was due in, for the dashboard's progress by
-- zone ('' for editions sent to everyone at once).
ALTER TABLE deliveries ADD COLUMN zone TEXT NOT NULL DEFAULT '';
