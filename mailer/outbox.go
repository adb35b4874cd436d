package mailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Outbox writes each message as an .eml file into a folder instead of
// sending it: what `bothsides send` does when no SMTP URL is set.
type Outbox struct {
	Dir string
	// DKIM, when set, signs what SendRaw writes.
	DKIM *DKIM
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9._@-]+`)

// Send writes m to DIR/<local part>-<message-id>.eml, atomically, signed
// like an edition's copy when the outbox has a DKIM key.
func (o *Outbox) Send(ctx context.Context, m *Message) error {
	from, raw, err := Encode(m)
	if err != nil {
		return err
	}
	return o.SendRaw(ctx, from, m.To, raw)
}

// fileName is the outbox file of a message: <local part>-<message-id>.eml.
func fileName(to, id string) string {
	return unsafeName.ReplaceAllString(strings.SplitN(to, "@", 2)[0], "_") + "-" + unsafeName.ReplaceAllString(id, "_") + ".eml"
}

// SendRaw writes a ready message to DIR/<to>-<message-id>.eml, atomically.
func (o *Outbox) SendRaw(ctx context.Context, from, to string, m Raw) error {
	msg, bodyOffset := m.Data, m.BodyOffset
	if err := ctx.Err(); err != nil {
		return err
	}
	var sig []byte
	if o.DKIM != nil {
		var err error
		if sig, err = o.DKIM.Sign(msg, bodyOffset); err != nil {
			return &Error{Stage: "dkim", Permanent: true, Err: err}
		}
	}
	id := "message"
	if _, v, ok := strings.Cut(string(msg[:bodyOffset]), "\r\nMessage-ID: <"); ok {
		id, _, _ = strings.Cut(v, ">")
	}
	return o.write(fileName(to, id), func(f *os.File) error {
		if _, err := f.Write(sig); err != nil {
			return err
		}
		if _, err := f.Write(msg); err != nil {
			return err
		}
		if m.Confirm != nil {
			return m.Confirm()
		}
		return nil
	})
}

func (o *Outbox) write(name string, fill func(f *os.File) error) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return &Error{Err: fmt.Errorf("outbox: %w", err)}
	}
	tmp, err := os.CreateTemp(o.Dir, ".tmp-*.eml")
	if err != nil {
		return &Error{Err: fmt.Errorf("outbox: %w", err)}
	}
	if err := fill(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return &Error{Err: fmt.Errorf("outbox: write %s: %w", name, err)}
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return &Error{Err: fmt.Errorf("outbox: %w", err)}
	}
	if err := os.Rename(tmp.Name(), filepath.Join(o.Dir, name)); err != nil {
		return &Error{Err: fmt.Errorf("outbox: %w", err)}
	}
	return nil
}

// Close does nothing; it makes Outbox a drop-in for SMTP.
func (o *Outbox) Close() error { return nil }
