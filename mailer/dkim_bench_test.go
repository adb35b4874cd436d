package mailer_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"bothsides/mailer"
)

// BenchmarkDKIM_Sign measures signing one 110 KB message with go-mail's
// signer, per key type.
func BenchmarkDKIM_Sign(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	body := strings.Repeat("<p>Lawmakers passed a short-term funding bill late Wednesday that keeps the gov</p>\n", 1400)
	tm, err := mailer.NewTemplate(mailer.TemplateConfig{From: "Both Sides <digest@news.example.com>", Subject: "s",
		Text: []byte("text\n"), HTML: []byte(body)})
	if err != nil {
		b.Fatal(err)
	}
	m, err := tm.Append(nil, &mailer.Recipient{To: "ana@example.com", MessageID: "x@news.example.com", Date: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range []struct {
		name string
		key  crypto.Signer
	}{{"rsa2048", rsaKey}, {"ed25519", edKey}} {
		d, err := mailer.NewDKIM(k.key, "s", "news.example.com")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				if _, err := d.Sign(m.Data, m.BodyOffset); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
