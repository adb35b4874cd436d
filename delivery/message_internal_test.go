package delivery

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sample"
)

// TestRun_MailFor: a send renders each distinct variant once, however many
// readers share it, and readers whose different topics give the same
// variant share that rendering.
func TestRun_MailFor(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	store := digest.NewStore(db)
	if _, err := store.Import(context.Background(), stories); err != nil {
		t.Fatal(err)
	}
	e, err := store.Assemble(context.Background(), digest.AssembleParams{Date: "2026-11-27", WindowEnd: testsupport.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(Config{From: "digest@news.example.com", BaseURL: "https://news.example.com"}, db, r, nil, nil)
	rendered, err := r.Render(e)
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.newEditionMail(e, rendered)
	if err != nil {
		t.Fatal(err)
	}
	run := &run{s: s, e: e, mail: base, log: slog.New(slog.NewTextHandler(io.Discard, nil)), variants: newVariants(base, e)}
	mail := func(topics string) *editionMail {
		t.Helper()
		m, err := run.mailFor(topics)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if mail(`[]`) != base || mail(``) != base || mail(`["Gardening"]`) != base || mail(`not json`) != base {
		t.Fatal("readers without a topic in play must get the edition's own rendering")
	}
	health := mail(`["Health"]`)
	if health == base {
		t.Fatal(`["Health"] got the plain edition`)
	}
	for range 100 {
		if mail(`["Health"]`) != health {
			t.Fatal("a variant was rendered twice")
		}
	}
	// Different topics, same variant: the same rendering.
	if e.Variant([]string{"Health"}).VariantKey() != e.Variant([]string{"health", "Gardening"}).VariantKey() {
		t.Fatal("Health and health+Gardening should make the same variant")
	}
	if mail(`["health","Gardening"]`) != health {
		t.Fatal("two topic sets with the same variant were rendered apart")
	}
	if n := len(run.variants.byKey); n != 2 {
		t.Fatalf("%d renderings kept, want 2 (the edition and the Health variant)", n)
	}
}
