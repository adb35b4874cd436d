package mailer_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"bothsides/mailer"
)

// BenchmarkMessage compares the two ways to make one reader's copy of a
// 110 KB edition: filling the pre-encoded Template (what the sender does)
// and building a go-mail message and encoding it (what the walking skeleton
// did for every reader).
func BenchmarkMessage(b *testing.B) {
	html := strings.Repeat("<p>Lawmakers passed a short-term funding bill · late Wednesday that keeps the gov</p>\n", 1000) +
		`<a href="` + mUnsub + `">Unsubscribe</a> ` + mName
	text := strings.Repeat("Lawmakers passed a short-term funding bill · late Wednesday that keeps the\n", 400) + mUnsub + " " + mName
	unsub := "https://news.example.com/unsubscribe/AQA.CJnUYaAbdUCh6kX5MhQS0kF7"
	b.Run("template", func(b *testing.B) {
		tm, err := mailer.NewTemplate(mailer.TemplateConfig{From: "Both Sides <digest@news.example.com>", Subject: "Both Sides, Fri 27 Nov",
			ListID: "l <x.news.example.com>", Text: []byte(text), HTML: []byte(html), Markers: []string{mName, mEmail, mUnsub}})
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		for b.Loop() {
			m, err := tm.Append(buf[:0], &mailer.Recipient{To: "ana@example.com", Name: "Ana", MessageID: "x@news.example.com",
				Date: time.Now(), Unsubscribe: unsub, Values: []string{"Ana", "ana@example.com", unsub}})
			if err != nil {
				b.Fatal(err)
			}
			buf = m.Data
			b.SetBytes(int64(len(buf)))
		}
	})
	b.Run("go-mail-per-message", func(b *testing.B) {
		for b.Loop() {
			r := strings.NewReplacer(mName, "Ana", mEmail, "ana@example.com", mUnsub, unsub)
			msg, err := mailer.Build(&mailer.Message{From: "Both Sides <digest@news.example.com>", To: "ana@example.com", ToName: "Ana",
				Subject: "Both Sides, Fri 27 Nov", Date: time.Now(), Unsubscribe: unsub,
				HTML: []byte(r.Replace(html)), Text: []byte(r.Replace(text))})
			if err != nil {
				b.Fatal(err)
			}
			n, err := msg.WriteTo(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n)
		}
	})
}
