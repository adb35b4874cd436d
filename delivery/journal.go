package delivery

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"bothsides/sqlite"
)

// The journal of accepted messages: files beside the database, one per
// connection of a send, one line per message the relay accepted
// ("SUBSCRIBER_ID MESSAGE_ID\n"), appended by the connection right after
// the relay's 250 and before that connection's next final dot. The ledger
// takes the accepted messages in batches (many messages per SQLite
// transaction instead of one); the journal is what makes that safe: after a
// crash the next send of the edition replays it into the ledger before
// anything else, so a message the relay took is never sent again, save the
// one per connection whose 250 the crash cut off (the relay had it,
// bothsides had not heard it).
//
// An append is one write(2) to a file opened O_APPEND: it is in the
// kernel's page cache once the call returns, which a killed process does
// not undo. Like the ledger's synchronous=NORMAL commits, it is not synced
// to disk: a power cut may lose the last of both. A connection empties its
// file, before an append, once the file has grown past journalMax and the
// ledger holds every line in it: a file stays small however long the list.

// JournalPath is the journal of an edition's send for the database at
// dbPath: the connections' files are this name with ".1", ".2"... added;
// a file of this very name is read too.
func JournalPath(dbPath string, editionID int64) string {
	return fmt.Sprintf("%s-send-%d.sent", dbPath, editionID)
}

// journalMax is the size past which a connection's journal is emptied
// once the ledger holds all of it.
const journalMax = 1 << 20

// journal is one connection's journal file. accepted is called by that
// connection alone; done by the committer.
type journal struct {
	path      string
	f         *os.File
	buf       []byte
	size      int64
	appended  int64        // lines written since the file was last emptied
	committed atomic.Int64 // of those, lines the ledger holds
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open send journal: %w", err)
	}
	j := &journal{path: path, f: f, buf: make([]byte, 0, 128)}
	if st, err := f.Stat(); err == nil {
		j.size = st.Size()
	}
	return j, nil
}

// accepted appends one accepted message.
func (j *journal) accepted(subscriberID int64, msgID string) error {
	if j.size >= journalMax && j.committed.Load() == j.appended {
		if err := j.f.Truncate(0); err != nil {
			return fmt.Errorf("send journal %s: %w", j.path, err)
		}
		j.size, j.appended = 0, 0
		j.committed.Store(0)
	}
	b := strconv.AppendInt(j.buf[:0], subscriberID, 10)
	b = append(b, ' ')
	b = append(b, msgID...)
	b = append(b, '\n')
	j.buf = b
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("send journal %s: %w", j.path, err)
	}
	j.size += int64(len(b))
	j.appended++
	return nil
}

// done is the committer's: n more lines of j are in the ledger.
func (j *journal) done(n int64) { j.committed.Add(n) }

// clear empties the journal once the ledger holds all it says.
func (j *journal) clear() error {
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("send journal %s: %w", j.path, err)
	}
	j.size, j.appended = 0, 0
	j.committed.Store(0)
	return nil
}

// close closes the journal and removes it when it is empty.
func (j *journal) close() {
	if st, err := j.f.Stat(); err == nil && st.Size() == 0 {
		os.Remove(j.path)
	}
	j.f.Close()
}

// journalFiles lists the journal files of an edition's send.
func journalFiles(dbPath string, editionID int64) ([]string, error) {
	base := JournalPath(dbPath, editionID)
	dir, name := filepath.Split(base)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read send journals: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); n == name || strings.HasPrefix(n, name+".") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}

// journalEntry is one accepted message read back.
type journalEntry struct {
	subscriberID int64
	msgID        string
}

// readJournal reads the accepted messages a send left in path; a last line
// cut short by a crash is ignored (its message was not confirmed before
// any next dot, so it is the one duplicate of its connection at most).
func readJournal(path string) ([]journalEntry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read send journal: %w", err)
	}
	var out []journalEntry
	complete := b[:bytes.LastIndexByte(b, '\n')+1]
	for i, ln := range bytes.SplitAfter(complete, []byte("\n")) {
		if len(ln) == 0 {
			break // after the last newline
		}
		ln = ln[:len(ln)-1]
		id, msgID, ok := bytes.Cut(ln, []byte(" "))
		n, err := strconv.ParseInt(string(id), 10, 64)
		if !ok || err != nil || n <= 0 || len(msgID) == 0 {
			return nil, fmt.Errorf("send journal %s line %d: %q is not \"SUBSCRIBER_ID MESSAGE_ID\"", path, i+1, short(string(ln)))
		}
		out = append(out, journalEntry{subscriberID: n, msgID: string(msgID)})
	}
	return out, nil
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// markSent marks one delivery sent with its Message-ID: a message of a
// ledger transaction's batch, or of a journal replayed. A row already
// settled is left as it is, and so is one that is gone (its subscriber
// removed meanwhile). Parameters: the time, the edition, the subscriber,
// the Message-ID.
const markSent = `UPDATE deliveries SET status = 'sent', attempts = attempts + 1, last_code = 250,
		last_reply = '250 accepted', sent_at = ?1, updated_at = ?1, next_attempt_at = NULL, message_id = ?4
	WHERE edition_id = ?2 AND subscriber_id = ?3 AND status IN ('queued', 'sending', 'retry')`

// replayJournal brings into the ledger what an interrupted send of the
// edition journaled and had not recorded, and removes its journals. It
// runs under the edition's lease, before the send goes on.
func (s *Sender) replayJournal(ctx context.Context, editionID int64) (int64, error) {
	paths, err := journalFiles(s.db.Path, editionID)
	if err != nil {
		return 0, err
	}
	var entries []journalEntry
	for _, p := range paths {
		e, err := readJournal(p)
		if err != nil {
			return 0, err
		}
		entries = append(entries, e...)
	}
	if len(entries) == 0 {
		return 0, nil
	}
	var n int64
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := tx.PrepareContext(ctx, markSent)
		if err != nil {
			return err
		}
		defer st.Close()
		now := sqlite.Time(s.db.Now())
		for _, e := range entries {
			res, err := st.ExecContext(ctx, now, editionID, e.subscriberID, e.msgID)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replay send journals %s: %w", strings.Join(paths, ", "), err)
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return n, fmt.Errorf("send journal %s: %w", p, err)
		}
	}
	return n, nil
}
