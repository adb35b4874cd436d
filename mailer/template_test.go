package mailer_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"html"
	"io"
	"math/big"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

const (
	mName  = "bsmark0yabc"
	mEmail = "bsmark1yabc"
	mUnsub = "bsmark2yabc"
)

func testTemplate(t *testing.T, mailto string) *mailer.Template {
	t.Helper()
	text := "Good morning, " + mName + ".\nA line with = signs and trailing space \n" +
		strings.Repeat("long words go on and on ", 12) + "\nZoë café · naïve — ünïcödé\n" +
		"Sent to " + mEmail + ". Unsubscribe: " + mUnsub + "\n.\n.dot at line start\n"
	htm := "<p>Good morning, " + mName + ".</p><a href=\"" + mUnsub + "\">unsubscribe</a><p>" +
		strings.Repeat("<b>x</b>&nbsp;", 40) + "</p><p>" + mEmail + "</p>"
	tm, err := mailer.NewTemplate(mailer.TemplateConfig{
		From:              "Both Sides <digest@news.example.com>",
		ReplyTo:           "Editors <editors@news.example.com>",
		Subject:           "Both Sides, Fri 27 Nov: Zoë's café reopens after a long and very public dispute over its lease",
		ListID:            "Both Sides daily digest <default.news.example.com>",
		FeedbackID:        "2026-11-27:default:digest:bothsides",
		UnsubscribeMailto: mailto,
		Headers:           []mailer.Header{{Name: "Precedence", Value: "bulk"}},
		Text:              []byte(text),
		HTML:              []byte(htm),
		Markers:           []string{mName, mEmail, mUnsub},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestTemplate_Append(t *testing.T) {
	tm := testTemplate(t, "mailto:unsubscribe@news.example.com?subject=unsubscribe")
	unsub := "https://news.example.com/unsubscribe/AQA.CJnUYaAbdUCh6kX5MhQS0kF7" + strings.Repeat("x", 60)
	r := &mailer.Recipient{
		To: "ana@example.com", Name: "Ana <&> Zoë", MessageID: "e1.s1.a1.abc@news.example.com",
		Date:        time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC),
		Unsubscribe: unsub,
		Values:      []string{"Ana <&> Zoë", "ana@example.com", unsub},
	}
	rm, err := tm.Append(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	raw, off := rm.Data, rm.BodyOffset
	if got := string(raw[off-4 : off]); got != "\r\n\r\n" {
		t.Fatalf("body offset %d does not follow the blank line: %q", off, got)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d is %d long", i, len(line))
		}
		if i > 20 && len(line) > 76 {
			t.Fatalf("body line %d is %d characters: %q", i, len(line), line)
		}
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatal("bare LF in message")
	}
	m, err := testsupport.ParseMail(raw)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	for name, want := range map[string]string{
		"From":                  `"Both Sides" <digest@news.example.com>`,
		"Reply-To":              `"Editors" <editors@news.example.com>`,
		"Message-Id":            "<e1.s1.a1.abc@news.example.com>",
		"List-Id":               "Both Sides daily digest <default.news.example.com>",
		"List-Unsubscribe":      "<" + unsub + ">, <mailto:unsubscribe@news.example.com?subject=unsubscribe>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Feedback-Id":           "2026-11-27:default:digest:bothsides",
		"Date":                  "Fri, 27 Nov 2026 07:00:00 +0000",
		"Mime-Version":          "1.0",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got, want := testsupport.DecodeHeader(h.Get("Subject")), "Both Sides, Fri 27 Nov: Zoë's café reopens after a long and very public dispute over its lease"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Ana <&> Zoë" || to[0].Address != "ana@example.com" {
		t.Errorf("To = %q (%v), want Ana <&> Zoë <ana@example.com>", h.Get("To"), err)
	}
	if got, want := strings.Join(m.Parts, ","), "text/plain,text/html"; got != want {
		t.Fatalf("parts %s, want %s", got, want)
	}
	wantText := "Good morning, Ana <&> Zoë.\r\nA line with = signs and trailing space \r\n" +
		strings.Repeat("long words go on and on ", 12) + "\r\nZoë café · naïve — ünïcödé\r\n" +
		"Sent to ana@example.com. Unsubscribe: " + unsub + "\r\n.\r\n.dot at line start\r\n"
	if m.Text != wantText {
		t.Errorf("text part:\n%q\nwant\n%q", m.Text, wantText)
	}
	esc := html.EscapeString
	wantHTML := "<p>Good morning, " + esc("Ana <&> Zoë") + ".</p><a href=\"" + esc(unsub) + "\">unsubscribe</a><p>" +
		strings.Repeat("<b>x</b>&nbsp;", 40) + "</p><p>ana@example.com</p>"
	if m.HTML != wantHTML {
		t.Errorf("html part:\n%q\nwant\n%q", m.HTML, wantHTML)
	}
}

func TestTemplate_Errors(t *testing.T) {
	t.Run("BadMarker", func(t *testing.T) {
		_, err := mailer.NewTemplate(mailer.TemplateConfig{From: "a@b.example", Markers: []string{"has space"}})
		if err == nil || !strings.Contains(err.Error(), "letters and digits") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("BadFrom", func(t *testing.T) {
		_, err := mailer.NewTemplate(mailer.TemplateConfig{From: "not an address"})
		if err == nil || !strings.Contains(err.Error(), "from") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("BadMailto", func(t *testing.T) {
		_, err := mailer.NewTemplate(mailer.TemplateConfig{From: "a@b.example", UnsubscribeMailto: "https://x"})
		if err == nil || !strings.Contains(err.Error(), "mailto") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("HeaderInjection", func(t *testing.T) {
		tm := testTemplate(t, "")
		_, err := tm.Append(nil, &mailer.Recipient{To: "a@b.example\r\nBcc: x@y.example", MessageID: "x@y", Values: []string{"", "", ""}})
		if err == nil {
			t.Fatal("address with CRLF accepted")
		}
	})
}

// TestTemplate_QuotedPrintable round-trips random bodies, values included,
// through the standard library's decoder.
func TestTemplate_QuotedPrintable(t *testing.T) {
	alphabet := []rune("ab =.\t\n\r<>&é€😀-_x ...")
	rnd := func(n int) string {
		var b strings.Builder
		for range n {
			i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			b.WriteRune(alphabet[i.Int64()])
		}
		return b.String()
	}
	for i := range 200 {
		body := rnd(i*3) + mName + rnd(i) + mName + rnd(50)
		val := strings.NewReplacer("\r", "", "\n", "").Replace(rnd(i % 90))
		tm, err := mailer.NewTemplate(mailer.TemplateConfig{From: "a@b.example", Text: []byte(body), HTML: []byte("<p>" + mName + "</p>"), Markers: []string{mName}})
		if err != nil {
			t.Fatal(err)
		}
		rm, err := tm.Append(nil, &mailer.Recipient{To: "c@d.example", MessageID: "x@b.example", Values: []string{val}})
		if err != nil {
			t.Fatal(err)
		}
		raw, off := rm.Data, rm.BodyOffset
		part := string(raw[off:])
		_, part, _ = strings.Cut(part, "quoted-printable\r\n\r\n")
		part, _, _ = strings.Cut(part, "\r\n--=_bs")
		for _, line := range strings.Split(part, "\r\n") {
			if len(line) > 76 {
				t.Fatalf("case %d: encoded line of %d characters", i, len(line))
			}
			if strings.HasPrefix(line, ".") {
				t.Fatalf("case %d: line starts with a dot: %q", i, line)
			}
			if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
				t.Fatalf("case %d: trailing whitespace in %q", i, line)
			}
		}
		got, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(part)))
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), mName, val)
		// Line breaks travel as CRLF.
		norm := func(s string) string {
			s = strings.ReplaceAll(s, "\r\n", "\n")
			return s
		}
		if norm(string(got)) != norm(want) {
			// A lone CR is encoded as =0D and comes back as CR.
			t.Fatalf("case %d: round trip\n got %q\nwant %q", i, got, want)
		}
	}
}

func TestDKIM_Sign(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"RSA": rsaKey, "Ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			d, err := mailer.NewDKIM(key, "s2026", "news.example.com")
			if err != nil {
				t.Fatal(err)
			}
			tm := testTemplate(t, "mailto:unsubscribe@news.example.com")
			unsub := "https://news.example.com/unsubscribe/" + strings.Repeat("T", 80)
			rm, err := tm.Append(nil, &mailer.Recipient{To: "ana@example.com", Name: "Ana", MessageID: "m1@news.example.com",
				Date: time.Now(), Unsubscribe: unsub, Values: []string{"Ana", "ana@example.com", unsub}})
			if err != nil {
				t.Fatal(err)
			}
			raw, off := rm.Data, rm.BodyOffset
			sig, err := d.Sign(raw, off)
			if err != nil {
				t.Fatal(err)
			}
			signed := append(sig, raw...)
			vs, err := testsupport.VerifyDKIM(signed, "s2026", "news.example.com", key.Public())
			if err != nil {
				t.Fatalf("verify: %v\n%s", err, signed[:off+len(sig)])
			}
			headers := strings.ToLower(strings.Join(vs[0].HeaderKeys, ":"))
			for _, h := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post", "list-id", "feedback-id"} {
				if !strings.Contains(":"+headers+":", ":"+h+":") {
					t.Errorf("signature does not cover %s (h=%s)", h, headers)
				}
			}
			if !bytes.Contains(sig, []byte("c=simple/simple")) {
				t.Errorf("signature not simple/simple: %s", sig)
			}
			// A changed unsubscribe link must break the signature.
			tampered := bytes.Replace(signed, []byte(strings.Repeat("T", 80)), []byte(strings.Repeat("U", 80)), 1)
			if _, err := testsupport.VerifyDKIM(tampered, "s2026", "news.example.com", key.Public()); err == nil {
				t.Fatal("tampered List-Unsubscribe still verifies")
			}
		})
	}
	t.Run("ErrKeyType", func(t *testing.T) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mailer.NewDKIM(k, "s", "d.example"); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestTemplate_Append_Headers: a copy's own header fields go in its header,
// on one line each, and a copy without them is byte for byte the same as
// before.
func TestTemplate_Append_Headers(t *testing.T) {
	tm := testTemplate(t, "")
	r := mailer.Recipient{To: "ana@example.com", MessageID: "e1.s1.a1.abc@news.example.com",
		Date: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC), Values: []string{"Ana", "ana@example.com", "https://x.example/u"}}
	plain, err := tm.Append(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	with := r
	with.Headers = []mailer.Header{{Name: "X-Bothsides-Delivery", Value: "aaaqcgimlh445ioch4c2s\r\nBcc: evil@example.net"}}
	raw, err := tm.Append(nil, &with)
	if err != nil {
		t.Fatal(err)
	}
	m, err := testsupport.ParseMail(raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("X-Bothsides-Delivery"); !strings.HasPrefix(got, "aaaqcgimlh445ioch4c2s") {
		t.Errorf("X-Bothsides-Delivery = %q", got)
	}
	if m.Header.Get("Bcc") != "" {
		t.Error("a line break in a header value made a header field")
	}
	// Cut the field out: what is left is the message made without it.
	s := string(raw.Data)
	i := strings.Index(s, "X-Bothsides-Delivery: ")
	j := i + strings.Index(s[i:], "\r\n") + 2
	if i < 0 || s[:i]+s[j:] != string(plain.Data) {
		t.Errorf("without its header line the message differs from the one made without the header")
	}
	if raw.BodyOffset <= plain.BodyOffset || string(raw.Data[raw.BodyOffset:]) != string(plain.Data[plain.BodyOffset:]) {
		t.Errorf("body offset %d (without: %d) or body differs", raw.BodyOffset, plain.BodyOffset)
	}
}
