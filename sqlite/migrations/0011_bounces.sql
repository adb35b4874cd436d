-- What comes back after a send: delivery status notifications, complaints,
-- auto-replies and sending services' events, one row per report and
-- recipient, written by the bounce package.
CREATE TABLE bounces (
	id            INTEGER PRIMARY KEY,
	received_at   TEXT NOT NULL,            -- when it was recorded (the store's clock)
	at            TEXT NOT NULL,            -- when the report says it happened
	-- The delivery it is about, when a valid token or a verified recipient
	-- names it; NULL: unmatched. Erasing a subscriber deletes their rows.
	subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
	edition_id    INTEGER REFERENCES editions (id) ON DELETE SET NULL,
	kind          TEXT NOT NULL
	              CHECK (kind IN ('hard', 'soft', 'complaint', 'autoreply', 'delivered', 'feedback', 'unparsed')),
	status        TEXT NOT NULL DEFAULT '', -- enhanced status code, 5.1.1
	diagnostic    TEXT NOT NULL DEFAULT '', -- the remote server's words, or why it could not be read
	source        TEXT NOT NULL,            -- smtp, imap, ses, sendgrid, postmark, mailgun
	recipient     TEXT NOT NULL DEFAULT '', -- the address the report names
	domain        TEXT NOT NULL DEFAULT '', -- its domain, lower case
	external_id   TEXT NOT NULL DEFAULT '', -- the source's id of the event
	raw_hash      TEXT NOT NULL DEFAULT '', -- SHA-256 of the whole report, kept after raw is dropped
	raw           BLOB,                     -- the report, capped; NULL after the retention
	raw_size      INTEGER NOT NULL DEFAULT 0, -- the report's size before the cap
	matched_by    TEXT NOT NULL DEFAULT '', -- 'token', 'recipient' or '' (unmatched)
	effect        TEXT NOT NULL DEFAULT ''  -- what it did to the subscriber, '' for nothing
);
-- The same event twice records once: by the source's id, or by the same
-- report about the same recipient when the source gives no id (a webhook's
-- batch holds several events in one body).
CREATE UNIQUE INDEX bounces_external ON bounces (source, external_id) WHERE external_id != '';
CREATE UNIQUE INDEX bounces_raw ON bounces (raw_hash, recipient) WHERE raw_hash != '' AND external_id = '';
-- Per edition and recipient domain (the reputation guard), per subscriber
-- in time (soft-bounce persistence, the subscriber's page), by time.
CREATE INDEX bounces_edition ON bounces (edition_id, kind, domain);
CREATE INDEX bounces_subscriber ON bounces (subscriber_id, kind, received_at);
CREATE INDEX bounces_received ON bounces (received_at);
CREATE INDEX bounces_raw_kept ON bounces (received_at) WHERE raw IS NOT NULL;
CREATE INDEX bounces_recipient ON bounces (recipient COLLATE NOCASE);

-- Erasing a subscriber also deletes the unmatched reports that name the
-- address (a matched one goes by the cascade above).
CREATE TRIGGER bounces_erase AFTER DELETE ON subscribers
BEGIN
	DELETE FROM bounces WHERE recipient = OLD.email COLLATE NOCASE;
END;
