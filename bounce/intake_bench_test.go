package bounce_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bothsides/bounce"
	"bothsides/digest"
	"bothsides/internal/testsupport"
)

// BenchmarkListener_PostfixDSN: Postfix DSNs through the SMTP listener into
// the real store on a real database, one connection, a message per
// transaction, with the reputation guard checking an edition of 10,000
// deliveries being sent after each.
func BenchmarkListener_PostfixDSN(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "postfix_dsn.eml"))
	if err != nil {
		b.Fatal(err)
	}
	db, _ := testsupport.MustOpenDB(b)
	newLedger(b, db, "2026-11-27", digest.EditionSending, 10000, 0)
	g, err := bounce.NewGuard(bounce.GuardConfig{Logger: slog.New(slog.DiscardHandler)}, db)
	if err != nil {
		b.Fatal(err)
	}
	store := bounce.New(db, bounce.Config{Logger: slog.New(slog.DiscardHandler)})
	l, err := bounce.NewListener(bounce.ListenerConfig{Address: "bounces@bounce.example.com", Logger: slog.New(slog.DiscardHandler)}, g.Receiver(store))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go l.Serve(ln)
	defer l.Close(context.Background())
	c := dial(b, ln.Addr().String())
	c.cmd("EHLO relay.example.net")
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		// A different report each time: the same one twice records once.
		msg := fmt.Sprintf("X-Bench: %d\r\n%s", i, raw)
		if code, text := c.send("bounces@bounce.example.com", msg); code != 250 {
			b.Fatalf("DATA = %d %s", code, text)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reports/s")
	b.StopTimer()
	c.cmd("QUIT")
}

// BenchmarkGuard_Check: one check of an edition of 100,000 deliveries.
func BenchmarkGuard_Check(b *testing.B) {
	db, _ := testsupport.MustOpenDB(b)
	l := newLedger(b, db, "2026-11-27", digest.EditionSending, 100000, 0)
	g, err := bounce.NewGuard(bounce.GuardConfig{Logger: slog.New(slog.DiscardHandler)}, db)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := g.Check(context.Background(), l.edition); err != nil {
			b.Fatal(err)
		}
	}
}
