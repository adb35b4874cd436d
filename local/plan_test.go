package local

import (
	"strings"
	"testing"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

// plan returns SQLite's query plan of q, one detail per line.
func plan(t *testing.T, db *sqlite.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.R.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "\n")
}

// TestDueQuery_UsesIndex: a tick finds its due subscribers by a range
// search of the index on (schedule_id, due_at), already in due order: its
// cost follows the rows due, not the subscribers or the zones.
func TestDueQuery_UsesIndex(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	if _, err := db.W.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	p := plan(t, db, dueQuery, 1, "2026-11-27T07:00:00Z", 5000)
	if !strings.Contains(p, "SEARCH local_due USING INDEX local_due_at (schedule_id=? AND due_at<?)") {
		t.Fatalf("due query plan:\n%s\nwant a search of local_due_at", p)
	}
	if strings.Contains(p, "SCAN") || strings.Contains(p, "TEMP B-TREE") {
		t.Fatalf("due query plan:\n%s\nwant no scan and no sort", p)
	}
	p = plan(t, db, `SELECT zone, COUNT(*) FROM local_due WHERE schedule_id = ? AND local_date = ? GROUP BY zone`, 1, "2026-11-27")
	if !strings.Contains(p, "USING COVERING INDEX local_due_date") {
		t.Fatalf("progress plan:\n%s\nwant the covering index local_due_date", p)
	}
}
