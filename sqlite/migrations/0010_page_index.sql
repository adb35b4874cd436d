-- The public pages without JSON scans: which editions carried which story,
-- and a number that changes whenever a story or an edition does.

-- One row per story an edition carries, in its top stories ('story') or its
-- blindspots ('blindspot'), with the story version it carries (1 when the
-- stored story has none, as for editions frozen before versions were kept).
-- Extras are not listed: they are not part of the edition everyone gets.
-- Triggers keep it in step with editions.content, whoever writes it, and
-- the rows go with their edition.
CREATE TABLE edition_stories (
	edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
	list       TEXT NOT NULL CHECK (list IN ('story', 'blindspot')),
	position   INTEGER NOT NULL,
	story_id   TEXT NOT NULL,
	version    INTEGER NOT NULL,
	PRIMARY KEY (edition_id, list, position)
);
CREATE INDEX edition_stories_story ON edition_stories (story_id);

-- Backfill from the editions stored so far.
INSERT INTO edition_stories (edition_id, list, position, story_id, version)
	SELECT e.id, 'story', j.key, json_extract(j.value, '$.id'), COALESCE(json_extract(j.value, '$.version'), 1)
	FROM editions e, json_each(e.content, '$.stories') j
	WHERE json_extract(j.value, '$.id') IS NOT NULL;
INSERT INTO edition_stories (edition_id, list, position, story_id, version)
	SELECT e.id, 'blindspot', j.key, json_extract(j.value, '$.story.id'), COALESCE(json_extract(j.value, '$.story.version'), 1)
	FROM editions e, json_each(e.content, '$.blindspots') j
	WHERE json_extract(j.value, '$.story.id') IS NOT NULL;

CREATE TRIGGER edition_stories_new AFTER INSERT ON editions
BEGIN
	INSERT INTO edition_stories (edition_id, list, position, story_id, version)
		SELECT NEW.id, 'story', j.key, json_extract(j.value, '$.id'), COALESCE(json_extract(j.value, '$.version'), 1)
		FROM json_each(NEW.content, '$.stories') j
		WHERE json_extract(j.value, '$.id') IS NOT NULL;
	INSERT INTO edition_stories (edition_id, list, position, story_id, version)
		SELECT NEW.id, 'blindspot', j.key, json_extract(j.value, '$.story.id'), COALESCE(json_extract(j.value, '$.story.version'), 1)
		FROM json_each(NEW.content, '$.blindspots') j
		WHERE json_extract(j.value, '$.story.id') IS NOT NULL;
END;

-- An assembled edition frozen again gets new content.
CREATE TRIGGER edition_stories_changed AFTER UPDATE OF content ON editions
WHEN OLD.content IS NOT NEW.content
BEGIN
	DELETE FROM edition_stories WHERE edition_id = NEW.id;
	INSERT INTO edition_stories (edition_id, list, position, story_id, version)
		SELECT NEW.id, 'story', j.key, json_extract(j.value, '$.id'), COALESCE(json_extract(j.value, '$.version'), 1)
		FROM json_each(NEW.content, '$.stories') j
		WHERE json_extract(j.value, '$.id') IS NOT NULL;
	INSERT INTO edition_stories (edition_id, list, position, story_id, version)
		SELECT NEW.id, 'blindspot', j.key, json_extract(j.value, '$.story.id'), COALESCE(json_extract(j.value, '$.story.version'), 1)
		FROM json_each(NEW.content, '$.blindspots') j
		WHERE json_extract(j.value, '$.story.id') IS NOT NULL;
END;

-- The pages' generation: the web server keeps rendered archive, edition and
-- story pages in memory and serves a copy only while this number is the one
-- it was rendered at. Triggers bump it on every change a page can show, so a
-- change made by any process (an import, a send, the console) shows at once.
-- Writes that no page shows (the sender, a pause reason, the ledger) leave
-- it alone.
CREATE TABLE page_generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
);
INSERT INTO page_generation (id, n) VALUES (1, 1);

CREATE TRIGGER page_generation_story_new AFTER INSERT ON stories
BEGIN UPDATE page_generation SET n = n + 1; END;
CREATE TRIGGER page_generation_story_changed AFTER UPDATE ON stories
BEGIN UPDATE page_generation SET n = n + 1; END;
CREATE TRIGGER page_generation_story_gone AFTER DELETE ON stories
BEGIN UPDATE page_generation SET n = n + 1; END;
CREATE TRIGGER page_generation_edition_new AFTER INSERT ON editions
BEGIN UPDATE page_generation SET n = n + 1; END;
CREATE TRIGGER page_generation_edition_gone AFTER DELETE ON editions
BEGIN UPDATE page_generation SET n = n + 1; END;
CREATE TRIGGER page_generation_edition_changed AFTER UPDATE OF date, schedule, content, status, started_at ON editions
WHEN OLD.date IS NOT NEW.date OR OLD.schedule IS NOT NEW.schedule OR OLD.status IS NOT NEW.status
	OR OLD.started_at IS NOT NEW.started_at OR OLD.content IS NOT NEW.content
BEGIN UPDATE page_generation SET n = n + 1; END;
