package delivery

import (
	"os"
	"path/filepath"
	"testing"
)

// TestJournal_EmptiedOnceRecorded: a connection's journal grows past
// journalMax while the ledger lacks some of its lines, and is emptied at
// the next append once the ledger holds them all; what is read back is
// always what the ledger may lack.
func TestJournal_EmptiedOnceRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sent.1")
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	const msgID = "e1.s1.a1.0123456789ab@news.example.com"
	id := int64(0)
	for j.size < journalMax {
		id++
		if err := j.accepted(id, msgID); err != nil {
			t.Fatal(err)
		}
	}
	j.done(id - 1) // the last line is not in the ledger yet
	id++
	if err := j.accepted(id, msgID); err != nil {
		t.Fatal(err)
	}
	if j.size < journalMax {
		t.Fatalf("emptied with a line the ledger lacks: %d bytes", j.size)
	}
	j.done(2)
	id++
	if err := j.accepted(id, msgID); err != nil {
		t.Fatal(err)
	}
	got, err := readJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].subscriberID != id || got[0].msgID != msgID {
		t.Fatalf("after emptying: %+v, want the one line since", got)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != j.size {
		t.Fatalf("file %v, %v; journal says %d bytes", st.Size(), err, j.size)
	}
}

// TestReadJournal: a last line cut short is not read; a line that is not
// "SUBSCRIBER_ID MESSAGE_ID" is an error naming the file and line.
func TestReadJournal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := readJournal(write("a", "7 m7@x\n8 m8@x\n9 m9"))
	if err != nil || len(got) != 2 || got[1] != (journalEntry{8, "m8@x"}) {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range []string{"x m@x\n", "7\n", "0 m@x\n", "-3 m@x\n", "7 \n"} {
		if _, err := readJournal(write("b", "1 ok@x\n"+bad)); err == nil {
			t.Errorf("%q read without an error", bad)
		}
	}
	if got, err := readJournal(filepath.Join(dir, "none")); err != nil || got != nil {
		t.Fatalf("missing file: %+v, %v", got, err)
	}
}
