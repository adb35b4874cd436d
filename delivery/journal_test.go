package delivery_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"bothsides/delivery"
)

// TestSender_Send_ReplaysJournal: what a killed send journaled as accepted
// is recorded when the next send starts and not mailed again; a last line
// cut short counts for nothing (that message goes again: the one duplicate
// its connection may make); the journal is gone once the edition is sent.
func TestSender_Send_ReplaysJournal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 6)
	s := f.sender(t, delivery.Config{Connections: 2}, nil)
	if _, err := s.Start(ctx, f.e); err != nil {
		t.Fatal(err)
	}
	path := delivery.JournalPath(f.db.Path, f.e.ID)
	journal := fmt.Sprintf("%d first@news.example.com\n%d second@news.example.com\n%d cut-sho", f.ids[0], f.ids[3], f.ids[4])
	if err := os.WriteFile(path, []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := s.Send(ctx, f.e)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 6 || st.Pending() != 0 {
		t.Fatalf("stats %+v, want 6 sent", st)
	}
	got := f.received()
	for i, e := range f.emails {
		want := 1
		if i == 0 || i == 3 {
			want = 0
		}
		if got[e] != want {
			t.Errorf("%s received %d, want %d", e, got[e], want)
		}
	}
	var msgID string
	if err := f.db.R.QueryRow(`SELECT message_id FROM deliveries WHERE edition_id = ? AND subscriber_id = ?`, f.e.ID, f.ids[3]).Scan(&msgID); err != nil || msgID != "second@news.example.com" {
		t.Errorf("replayed delivery's message id %q, %v", msgID, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("journal left behind after the edition was sent: %v", err)
	}
}

// TestSender_Send_BadJournal: a journal that is not one the sender wrote
// stops the send with the file and line named, and nothing is mailed.
func TestSender_Send_BadJournal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3)
	s := f.sender(t, delivery.Config{}, nil)
	path := delivery.JournalPath(f.db.Path, f.e.ID)
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d ok@x\nnot a line\n", f.ids[0])), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Send(ctx, f.e)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want one naming %s line 2", err, path)
	}
	if n := len(f.srv.Messages()); n != 0 {
		t.Fatalf("%d messages sent despite the bad journal", n)
	}
	if st := f.stats(t); st.Sent != 0 {
		t.Fatalf("ledger changed: %+v", st)
	}
}
