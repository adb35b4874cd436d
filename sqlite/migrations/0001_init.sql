-- Times are stored as TEXT in UTC, formatted 2006-01-02T15:04:05Z, so that
-- string order is time order.

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE stories (
	id             TEXT PRIMARY KEY,
	title          TEXT NOT NULL,
	summary        TEXT NOT NULL,
	published_at   TEXT NOT NULL,
	updated_at     TEXT,
	topics         TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
	overview       TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
	framing_left   TEXT NOT NULL DEFAULT '',
	framing_center TEXT NOT NULL DEFAULT '',
	framing_right  TEXT NOT NULL DEFAULT '',
	imported_at    TEXT NOT NULL
);
-- A story counts for an edition when published or updated in its window.
CREATE INDEX stories_published ON stories (published_at);
CREATE INDEX stories_updated ON stories (updated_at);

CREATE TABLE articles (
	story_id     TEXT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
	position     INTEGER NOT NULL,
	source       TEXT NOT NULL,
	bias         TEXT NOT NULL,
	url          TEXT NOT NULL,
	title        TEXT NOT NULL DEFAULT '',
	published_at TEXT,
	PRIMARY KEY (story_id, position)
);

CREATE TABLE faqs (
	story_id TEXT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	question TEXT NOT NULL,
	answer   TEXT NOT NULL,
	PRIMARY KEY (story_id, position)
);

CREATE TABLE subscribers (
	id             INTEGER PRIMARY KEY,
	email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name           TEXT NOT NULL DEFAULT '',
	status         TEXT NOT NULL DEFAULT 'active'
	               CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
	timezone       TEXT NOT NULL DEFAULT '',
	topics         TEXT NOT NULL DEFAULT '[]', -- JSON array of favoured topics
	preferred_hour INTEGER,                    -- local hour 0-23, NULL for the schedule's
	paused_until   TEXT,
	bounces        INTEGER NOT NULL DEFAULT 0,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL,
	confirmed_at   TEXT,
	unsubscribed_at TEXT
);
CREATE INDEX subscribers_status ON subscribers (status, id);

CREATE TABLE schedules (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	spec       TEXT NOT NULL,
	enabled    INTEGER NOT NULL DEFAULT 1,
	stories    INTEGER NOT NULL DEFAULT 5,
	window_hours INTEGER NOT NULL DEFAULT 24,
	subject    TEXT NOT NULL DEFAULT '',
	title      TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

-- An edition is frozen when assembled: content holds the stories exactly as
-- they were mailed, so later imports change neither the mail nor the archive.
CREATE TABLE editions (
	id           INTEGER PRIMARY KEY,
	date         TEXT NOT NULL,           -- YYYY-MM-DD
	schedule     TEXT NOT NULL DEFAULT 'default',
	window_start TEXT NOT NULL,
	window_end   TEXT NOT NULL,
	content      TEXT NOT NULL,           -- JSON of digest.Edition
	status       TEXT NOT NULL DEFAULT 'assembled'
	             CHECK (status IN ('assembled', 'sending', 'paused', 'cancelled', 'sent')),
	created_at   TEXT NOT NULL,
	started_at   TEXT,
	finished_at  TEXT,
	UNIQUE (date, schedule)
);

-- The delivery ledger: one row per edition and subscriber.
CREATE TABLE deliveries (
	edition_id    INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
	subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	status        TEXT NOT NULL DEFAULT 'queued'
	              CHECK (status IN ('queued', 'sending', 'sent', 'retry', 'failed', 'skipped')),
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_reply    TEXT NOT NULL DEFAULT '',
	next_attempt_at TEXT,
	message_id    TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	sent_at       TEXT,
	PRIMARY KEY (edition_id, subscriber_id)
);
CREATE INDEX deliveries_status ON deliveries (edition_id, status, subscriber_id);
