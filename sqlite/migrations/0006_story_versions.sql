-- Story versions: every distinct content a story has had, so that a
-- re-import keeps the previous text instead of overwriting it.
ALTER TABLE stories ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE story_versions (
	story_id   TEXT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
	version    INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	changes    TEXT NOT NULL DEFAULT '[]', -- JSON array of what changed from the previous version
	content    TEXT NOT NULL,              -- JSON of digest.Story as it was
	PRIMARY KEY (story_id, version)
);

-- Problems readers report about a story.
CREATE TABLE reports (
	id          INTEGER PRIMARY KEY,
	story_id    TEXT NOT NULL,
	version     INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	message     TEXT NOT NULL,
	email       TEXT NOT NULL DEFAULT '',
	client      TEXT NOT NULL DEFAULT '', -- keyed hash of the client address, for rate limits
	created_at  TEXT NOT NULL,
	resolved_at TEXT
);
CREATE INDEX reports_open ON reports (resolved_at, id);
CREATE INDEX reports_client ON reports (client, created_at);
