package subscribers_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"bothsides/subscribers"
)

// FuzzNormalizeAddress checks that an accepted address is in its normal
// form (normalising it again changes nothing), carries nothing that could
// break a header or an SMTP command, and that a refusal wraps
// ErrInvalidAddress with a message of bounded size.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{
		"ana@example.com", " Ana@EXAMPLE.com ", "<ana@example.com>", "Ana <ana@example.com>",
		"ana@bücher.example", "ana@localhost", "a@b", "@example.com", "ana@", "\"a b\"@example.com",
		"ana@example.com\r\nRCPT TO:<x@example.com>", "an\xffa@example.com", "ana@xn--.example",
		strings.Repeat("a", 65) + "@example.com", "ana@" + strings.Repeat("b", 250) + ".com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := subscribers.NormalizeAddress(in)
		if err != nil {
			if !errors.Is(err, subscribers.ErrInvalidAddress) {
				t.Fatalf("error %v does not wrap ErrInvalidAddress", err)
			}
			if len(err.Error()) > 1000 {
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			return
		}
		if !utf8.ValidString(out) || len(out) > subscribers.MaxAddressLen {
			t.Fatalf("accepted %q", out)
		}
		if strings.ContainsAny(out, "\r\n\x00<>") || strings.TrimSpace(out) != out {
			t.Fatalf("accepted %q, which could break a header or an SMTP command", out)
		}
		if at := strings.LastIndexByte(out, '@'); at <= 0 || at == len(out)-1 {
			t.Fatalf("accepted %q without a local part and a domain", out)
		}
		again, err := subscribers.NormalizeAddress(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeAddress(%q)=%q, %v; normalising %q again gives %q, %v", in, out, nil, out, again, err)
		}
	})
}

// FuzzCleanName checks that an accepted name holds no control or bidi
// character, stays within MaxNameLen and is stable, and that a refusal is
// a short ErrInvalid.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Ana", "  Ana Bo ", "<script>alert(1)</script>", "Ana\r\nBcc: x@example.com",
		"An\xffa", "Ana\u202egnp.exe", "\u2028", "Zoë 🙂", strings.Repeat("é", 101)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := subscribers.CleanName(in)
		if err != nil {
			if !errors.Is(err, subscribers.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if len(err.Error()) > 1000 {
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			return
		}
		if !utf8.ValidString(out) || utf8.RuneCountInString(out) > subscribers.MaxNameLen {
			t.Fatalf("accepted %q", out)
		}
		if strings.ContainsAny(out, "\r\n\x00\u202e\u2028") {
			t.Fatalf("accepted %q, which could break a header", out)
		}
		if again, err := subscribers.CleanName(out); err != nil || again != out {
			t.Fatalf("CleanName(%q)=%q; again: %q, %v", in, out, again, err)
		}
	})
}
