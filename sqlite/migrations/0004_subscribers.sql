-- Subscriber lifecycle: sign-up bookkeeping, the suppression list of erased
-- addresses, and sign-up rate limits.

-- Where a subscriber came from ('cli', 'import', 'signup') and when the last
-- confirmation mail was sent: a pending sign-up expires that long after it.
ALTER TABLE subscribers ADD COLUMN source TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE subscribers ADD COLUMN confirm_sent_at TEXT;

CREATE INDEX subscribers_pending ON subscribers (status, confirm_sent_at) WHERE status = 'pending';

-- Erased addresses: only a keyed one-way hash (HMAC-SHA256 with the
-- 'suppression_secret' setting) of the lower-cased address, so an import,
-- `subscribers add` or a sign-up can recognise it without storing it.
CREATE TABLE suppressions (
	hash       TEXT PRIMARY KEY,
	reason     TEXT NOT NULL,
	created_at TEXT NOT NULL
);

-- Sign-up attempts for rate limiting, by keyed hash of the address or of the
-- client network; rows older than the longest window are deleted.
CREATE TABLE signup_attempts (
	key TEXT NOT NULL,
	at  TEXT NOT NULL
);
CREATE INDEX signup_attempts_key ON signup_attempts (key, at);
CREATE INDEX signup_attempts_at ON signup_attempts (at);

-- Signed links name a subscriber by id. SQLite reuses the highest id after
-- it is deleted, so an old unsubscribe link of an erased subscriber could
-- name the next one. The floor remembers the highest id ever deleted and new
-- subscribers are numbered above it.
CREATE TABLE subscriber_id_floor (floor INTEGER NOT NULL);
INSERT INTO subscriber_id_floor (floor) VALUES (0);
CREATE TRIGGER subscribers_id_floor AFTER DELETE ON subscribers
BEGIN
	UPDATE subscriber_id_floor SET floor = max(floor, OLD.id);
END;
