package cli

import (
	"context"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// TestSecretFile: with BOTHSIDES_SECRET_FILE set, the links mailed are
// signed with the file's key, not the database's; a bad file stops the
// command with an error that says how to make a good one.
func TestSecretFile(t *testing.T) {
	c := newCLI(t)
	smtpSrv := testsupport.StartSMTP(t)
	c.env["BOTHSIDES_SMTP_URL"] = smtpSrv.URL()
	fileKey := []byte(strings.Repeat("k", 32))
	secret := filepath.Join(c.dir, "secret")
	if err := os.WriteFile(secret, []byte(hex.EncodeToString(fileKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["BOTHSIDES_SECRET_FILE"] = secret
	c.must(importFile(t, story("alpha", "Alpha story", testsupport.Epoch.Add(-3*time.Hour), "left", "center", "right")), "stories", "import", "-")
	c.must("", "subscribers", "add", "ana@example.com")

	t.Run("Used", func(t *testing.T) {
		_, errOut, err := c.run("", "send")
		if err != nil {
			t.Fatalf("send: %v\n%s", err, errOut)
		}
		msgs := smtpSrv.To("ana@example.com")
		if len(msgs) != 1 {
			t.Fatalf("%d messages, want 1", len(msgs))
		}
		m, err := testsupport.ParseMail(msgs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		match := linkInBrackets.FindStringSubmatch(m.Header.Get("List-Unsubscribe"))
		if match == nil {
			t.Fatalf("List-Unsubscribe=%q", m.Header.Get("List-Unsubscribe"))
		}
		token := match[1][strings.LastIndex(match[1], "/")+1:]
		now := testsupport.Epoch
		if _, err := subscribers.NewSigner(fileKey).Verify(subscribers.PurposeUnsubscribe, token, now); err != nil {
			t.Fatalf("the mailed link does not verify with the file's key: %v", err)
		}
		db, err := sqlite.Open(context.Background(), c.env["BOTHSIDES_DB"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbKey, err := db.Secret(context.Background(), "token_secret")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := subscribers.NewSigner(dbKey).Verify(subscribers.PurposeUnsubscribe, token, now); err == nil {
			t.Fatal("the mailed link verifies with the database's key")
		}
		// And the server takes the file's links and refuses the database's.
		a, _, _ := c.app("")
		a.cfg.SecretFile, a.cfg.DB = secret, c.env["BOTHSIDES_DB"]
		a.log = discardLog()
		signer, err := a.signer(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signer.Verify(subscribers.PurposeUnsubscribe, token, now); err != nil {
			t.Fatalf("the app's signer refuses the file-signed link: %v", err)
		}
		forged := subscribers.NewSigner(dbKey).Token(subscribers.PurposeUnsubscribe, 1, time.Time{})
		if _, err := signer.Verify(subscribers.PurposeUnsubscribe, forged, now); err == nil {
			t.Fatal("the app's signer takes a link signed with the database's key")
		}
	})

	t.Run("Errors", func(t *testing.T) {
		write := func(name, content string, mode os.FileMode) string {
			p := filepath.Join(c.dir, name)
			if err := os.WriteFile(p, []byte(content), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			return p
		}
		good := hex.EncodeToString(fileKey)
		for _, tc := range []struct{ name, path, want string }{
			{"Missing", filepath.Join(c.dir, "nope"), "no such file; make one with (umask 077; openssl rand -hex 32 > FILE)"},
			{"Short", write("short", hex.EncodeToString(fileKey[:16]), 0o600), "a 16-byte key, want at least 32 bytes"},
			{"NotHex", write("nothex", "correct horse battery staple, correct horse battery staple", 0o600), "want the key as hex digits only"},
			{"TooOpen", write("open", good, 0o644), "mode 0644 lets group or others at the key; chmod 600"},
			{"GroupReadable", write("group", good, 0o640), "mode 0640"},
			{"Directory", c.dir, "not a regular file"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := c.run("", "send", "--secret-file", tc.path)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
					t.Fatalf("err=%v, want %q naming %s", err, tc.want, tc.path)
				}
				if strings.Contains(err.Error(), "correct horse") {
					t.Fatalf("the error quotes the file: %v", err)
				}
			})
		}
	})

	t.Run("WarnsWhileTheDatabaseHoldsACopy", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), c.env["BOTHSIDES_DB"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbKey, err := db.Secret(context.Background(), "token_secret")
		if err != nil {
			t.Fatal(err)
		}
		exported := filepath.Join(c.dir, "exported")
		if err := os.WriteFile(exported, []byte(hex.EncodeToString(dbKey)), 0o400); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := c.run("", "send", "--secret-file", exported)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut, "the database still holds a copy of the link-signing key") {
			t.Fatalf("stderr %q: want the copy warning", errOut)
		}
		if strings.Contains(errOut, hex.EncodeToString(dbKey)) {
			t.Fatal("the warning shows the key")
		}
	})
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
