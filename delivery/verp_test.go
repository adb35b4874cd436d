package delivery_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"bothsides/delivery"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

func TestSender_Send_BounceAddress(t *testing.T) {
	ctx := context.Background()
	t.Run("VERPEnvelopeAndSignedHeader", func(t *testing.T) {
		f := newFixture(t, 4)
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		d, err := mailer.NewDKIM(key, "s1", "news.example.com")
		if err != nil {
			t.Fatal(err)
		}
		s := f.sender(t, delivery.Config{BounceAddress: "bounces@bounce.example.com"}, d)
		if _, err := s.Send(ctx, f.e); err != nil {
			t.Fatal(err)
		}
		msgs := f.srv.Messages()
		if len(msgs) != 4 {
			t.Fatalf("%d messages, want 4", len(msgs))
		}
		seen := map[int64]bool{}
		for _, m := range msgs {
			// MAIL FROM as the server recorded it.
			local, domain, _ := strings.Cut(m.From, "@")
			token, ok := strings.CutPrefix(local, "bounces+")
			if !ok || domain != "bounce.example.com" {
				t.Fatalf("envelope sender %q, want bounces+TOKEN@bounce.example.com", m.From)
			}
			if strings.Trim(token, "abcdefghijklmnopqrstuvwxyz234567") != "" || len(local) > 64 {
				t.Errorf("token %q is not lower-case letters and digits, or the local part is too long", token)
			}
			edition, sub, err := f.signer.VerifyDelivery(token, f.clock.Now())
			if err != nil {
				t.Fatalf("token %q: %v", token, err)
			}
			mail, err := testsupport.ParseMail(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			var email string
			for i, id := range f.ids {
				if id == sub {
					email = f.emails[i]
				}
			}
			if edition != f.e.ID || email != m.To[0] {
				t.Errorf("token names edition %d subscriber %d (%s), message went to %s of edition %d", edition, sub, email, m.To[0], f.e.ID)
			}
			seen[sub] = true
			if got := mail.Header.Get(delivery.DeliveryHeader); got != token {
				t.Errorf("%s = %q, want the envelope's token %q", delivery.DeliveryHeader, got, token)
			}
			vs, err := testsupport.VerifyDKIM(m.Data, "s1", "news.example.com", pub)
			if err != nil {
				t.Fatalf("DKIM: %v", err)
			}
			keys := strings.ToLower(strings.Join(vs[0].HeaderKeys, ","))
			if strings.Count(keys, "x-bothsides-delivery") != 2 {
				t.Errorf("the delivery header is not signed and oversigned: h=%s", keys)
			}
		}
		if len(seen) != 4 {
			t.Errorf("%d distinct subscribers in the tokens, want 4", len(seen))
		}
	})
	t.Run("WithoutBounceAddress", func(t *testing.T) {
		f := newFixture(t, 2)
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		d, err := mailer.NewDKIM(key, "s1", "news.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.sender(t, delivery.Config{}, d).Send(ctx, f.e); err != nil {
			t.Fatal(err)
		}
		for _, m := range f.srv.Messages() {
			if m.From != "digest@news.example.com" {
				t.Errorf("envelope sender %q, want the From address", m.From)
			}
			if strings.Contains(string(m.Data), delivery.DeliveryHeader) {
				t.Errorf("a message without a bounce address carries %s", delivery.DeliveryHeader)
			}
			vs, err := testsupport.VerifyDKIM(m.Data, "s1", "news.example.com", pub)
			if err != nil {
				t.Fatal(err)
			}
			if keys := strings.ToLower(strings.Join(vs[0].HeaderKeys, ",")); strings.Contains(keys, "x-bothsides-delivery") {
				t.Errorf("h= lists the delivery header on a message without it: %s", keys)
			}
		}
	})
}
