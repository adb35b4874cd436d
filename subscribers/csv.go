package subscribers

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"bothsides/sqlite"
)

// ImportColumns are the columns `subscribers import` reads; only email is
// required.
var ImportColumns = []string{"email", "name", "timezone", "topics"}

// ExportColumns are the columns `subscribers export` writes: the import
// columns first, so an export imports back; import ignores the others.
var ExportColumns = []string{"email", "name", "timezone", "topics", "status", "preferred_hour", "paused_until",
	"source", "created_at", "confirmed_at", "unsubscribed_at"}

// TopicSeparator separates topics inside the topics cell.
const TopicSeparator = ";"

// ImportRow is one valid row of an import file.
type ImportRow struct {
	Line                  int // 1-based line in the file
	Email, Name, Timezone string
	Topics                []string
}

// RowError is a row that cannot be imported, or a note about one.
type RowError struct {
	Line   int
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// ParseCSV reads an import file: a header row naming the columns (email,
// name, timezone, topics; any order, only email required), then one
// subscriber per row, topics separated by ";". It returns the valid rows and
// one RowError per bad row; err is set only when the file as a whole cannot
// be read (no header, unknown columns).
func ParseCSV(r io.Reader) (rows []ImportRow, bad []RowError, err error) {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("the file is empty: want a header row such as email,name,timezone,topics")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	has := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case strings.Contains(h, "@"):
			return nil, nil, fmt.Errorf("header: the first line holds an address (%q): add a header row naming the columns, e.g. email,name,timezone,topics", h)
		case h == "":
			return nil, nil, fmt.Errorf("header: column %d has no name", i+1)
		case has[h]:
			return nil, nil, fmt.Errorf("header: column %q appears twice", h)
		case slices.Contains(ImportColumns, h):
			col[h], has[h] = i+1, true // 1-based so that 0 means absent
		case slices.Contains(ExportColumns, h):
			has[h] = true // exported for information, ignored on import
		default:
			return nil, nil, fmt.Errorf("header: unknown column %q; the columns are %s", h, strings.Join(ImportColumns, ","))
		}
	}
	if col["email"] == 0 {
		return nil, nil, fmt.Errorf("header: no email column (got %q); the first line must name the columns, e.g. email,name,timezone,topics", strings.Join(header, ","))
	}
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, RowError{Line: pe.StartLine, Reason: "malformed CSV: " + pe.Err.Error()})
				continue
			}
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			bad = append(bad, RowError{Line: line, Reason: fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))})
			continue
		}
		get := func(name string) string {
			if i := col[name]; i > 0 {
				return unguardCell(rec[i-1])
			}
			return ""
		}
		row := ImportRow{Line: line}
		reason := func() string {
			var err error
			if row.Email, err = NormalizeAddress(get("email")); err != nil {
				return err.Error()
			}
			if row.Name, err = CleanName(get("name")); err != nil {
				return err.Error()
			}
			if row.Timezone, err = CleanTimezone(get("timezone")); err != nil {
				return err.Error()
			}
			if row.Topics, err = CleanTopics(strings.Split(get("topics"), TopicSeparator)); err != nil {
				return err.Error()
			}
			k := strings.ToLower(row.Email)
			if first, dup := seen[k]; dup {
				return fmt.Sprintf("%s: same address as line %d", row.Email, first)
			}
			seen[k] = line
			return ""
		}()
		if reason != "" {
			bad = append(bad, RowError{Line: line, Reason: reason})
			continue
		}
		rows = append(rows, row)
	}
	return rows, bad, nil
}

// ImportOptions changes how Import treats existing subscribers.
type ImportOptions struct {
	// Resubscribe makes unsubscribed and bounced subscribers active again.
	// Without it they stay as they are. Complained ones always stay.
	Resubscribe bool
	// Batch writes the rows in transactions of this many, so that a large
	// import never holds the database's write lock for long (a running
	// server's unsubscribes wait for it); 0 writes all in one transaction.
	Batch int
}

// ImportResult counts what Import did; Notes name the rows left alone.
type ImportResult struct {
	Added, Updated, Unchanged, Reactivated, KeptInactive, Suppressed int
	Notes                                                            []RowError
}

// Imported is the number of rows that added or changed a subscriber.
func (r ImportResult) Imported() int { return r.Added + r.Updated + r.Reactivated }

// Import adds the rows as active subscribers (an import attests their
// consent), in transactions of opt.Batch rows. Existing subscribers get the non-empty
// name, timezone and topics of their row; a pending one becomes active.
// Erased addresses are skipped.
func (s *Store) Import(ctx context.Context, rows []ImportRow, opt ImportOptions) (ImportResult, error) {
	var res ImportResult
	hashes := make([]string, len(rows))
	for i, r := range rows {
		h, err := s.addressHash(ctx, r.Email)
		if err != nil {
			return res, err
		}
		hashes[i] = h
	}
	now := sqlite.Time(s.db.Now())
	batch := opt.Batch
	if batch <= 0 {
		batch = len(rows)
	}
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		var part ImportResult
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			part = ImportResult{}
			for i := start; i < end; i++ {
				r := rows[i]
				if suppressed, err := isSuppressed(ctx, tx, hashes[i]); err != nil {
					return err
				} else if suppressed {
					part.Suppressed++
					part.Notes = append(part.Notes, RowError{Line: r.Line, Reason: r.Email + ": skipped, the address was erased (suppression list)"})
					continue
				}
				var (
					id                          int64
					email, name, status, tz, tp string
				)
				err := tx.QueryRowContext(ctx, `SELECT id, email, name, status, timezone, topics FROM subscribers
				WHERE email = ? COLLATE NOCASE ORDER BY email = ? DESC, id LIMIT 1`, r.Email, r.Email).Scan(&id, &email, &name, &status, &tz, &tp)
				if errors.Is(err, sql.ErrNoRows) {
					if _, err := tx.ExecContext(ctx, `INSERT INTO subscribers
					(id, email, name, status, timezone, topics, source, created_at, updated_at, confirmed_at)
					VALUES (`+nextID+`, ?, ?, 'active', ?, ?, 'import', ?, ?, ?)`,
						r.Email, r.Name, r.Timezone, topicsJSON(r.Topics), now, now, now); err != nil {
						return fmt.Errorf("line %d: %w", r.Line, err)
					}
					part.Added++
					continue
				}
				if err != nil {
					return fmt.Errorf("line %d: %w", r.Line, err)
				}
				newName, newTZ, newTopics := name, tz, tp
				if r.Name != "" {
					newName = r.Name
				}
				if r.Timezone != "" {
					newTZ = r.Timezone
				}
				if len(r.Topics) > 0 {
					newTopics = topicsJSON(r.Topics)
				}
				newStatus := status
				switch Status(status) {
				case StatusPending:
					newStatus = string(StatusActive)
				case StatusUnsubscribed, StatusBounced:
					if opt.Resubscribe {
						newStatus = string(StatusActive)
					} else {
						part.Notes = append(part.Notes, RowError{Line: r.Line, Reason: fmt.Sprintf("%s: stays %s (give --resubscribe to make it active)", email, status)})
					}
				case StatusComplained:
					part.Notes = append(part.Notes, RowError{Line: r.Line, Reason: email + ": stays complained (marked a mail as spam)"})
				}
				if newName == name && newTZ == tz && newTopics == tp && newStatus == status {
					if newStatus == string(StatusActive) {
						part.Unchanged++
					} else {
						part.KeptInactive++
					}
					continue
				}
				q := `UPDATE subscribers SET name = ?, timezone = ?, topics = ?, updated_at = ? WHERE id = ?`
				args := []any{newName, newTZ, newTopics, now, id}
				if newStatus != status {
					q = `UPDATE subscribers SET name = ?, timezone = ?, topics = ?, updated_at = ?, status = 'active',
					confirmed_at = COALESCE(confirmed_at, ?), unsubscribed_at = NULL, bounces = 0, confirm_sent_at = NULL WHERE id = ?`
					args = []any{newName, newTZ, newTopics, now, now, id}
				}
				if _, err := tx.ExecContext(ctx, q, args...); err != nil {
					return fmt.Errorf("line %d: %w", r.Line, err)
				}
				switch {
				case newStatus != status && status != string(StatusPending):
					part.Reactivated++
				case newStatus != string(StatusActive):
					part.KeptInactive++
				default:
					part.Updated++
				}
			}
			return nil
		})
		if err != nil {
			if start == 0 {
				return res, fmt.Errorf("import subscribers: %w", err)
			}
			return res, fmt.Errorf("import subscribers: the rows before line %d were imported, the rest not: %w", rows[start].Line, err)
		}
		res.add(part)
	}
	return res, nil
}

func (r *ImportResult) add(o ImportResult) {
	r.Added += o.Added
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
	r.Reactivated += o.Reactivated
	r.KeptInactive += o.KeptInactive
	r.Suppressed += o.Suppressed
	r.Notes = append(r.Notes, o.Notes...)
}

// Export writes the subscribers matching p as CSV with ExportColumns. Cells
// that a spreadsheet would run as a formula are prefixed with a quote,
// which Import strips again.
func (s *Store) Export(ctx context.Context, w io.Writer, p SearchParams) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return 0, err
	}
	n := 0
	p.Limit = 1000
	for {
		list, err := s.Search(ctx, p)
		if err != nil {
			return n, err
		}
		for _, sub := range list {
			hour := ""
			if sub.PreferredHour != NoPreferredHour {
				hour = strconv.Itoa(sub.PreferredHour)
			}
			rec := []string{sub.Email, guardCell(sub.Name), sub.Timezone, guardCell(strings.Join(sub.Topics, TopicSeparator)),
				string(sub.Status), hour, timeCell(sub.PausedUntil), sub.Source, timeCell(sub.CreatedAt),
				timeCell(sub.ConfirmedAt), timeCell(sub.UnsubscribedAt)}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
			p.AfterID = sub.ID
		}
		if len(list) < p.Limit {
			break
		}
	}
	cw.Flush()
	return n, cw.Error()
}

func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return sqlite.Time(t)
}

// guardCell defuses spreadsheet formulas (CSV injection).
func guardCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func unguardCell(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(s[1])) {
		return s[1:]
	}
	return s
}
