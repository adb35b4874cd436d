-- Revocable links (issue 17): every signed link carries the subscriber's
-- link generation when it was made, and works only while the subscriber's
-- is the same; bumping it (subscribers revoke-links, the API, or the
-- reader's "sign out all my links") revokes every link mailed so far.
ALTER TABLE subscribers ADD COLUMN link_generation INTEGER NOT NULL DEFAULT 0;

-- Links mailed before this change have no key id, generation or expiry of
-- their own: they verify as key 0, generation 0, and expire as if they had
-- been made now (unsubscribe links 90 days from now, preferences links 30).
-- A database without a token secret never mailed any, and gets no row.
INSERT INTO settings (key, value)
SELECT 'token_legacy_issued', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'token_secret');
