package cli

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"bothsides/sqlite"
)

// minSecretBytes is the shortest link-signing key --secret-file may hold.
const minSecretBytes = 32

// signingKey returns the key that signs and verifies mailed links: the one
// in --secret-file when set (so that a copy of the database alone cannot
// forge links), else the database's token_secret, made on first use.
func (a *app) signingKey(ctx context.Context, db *sqlite.DB) ([]byte, error) {
	if a.cfg.SecretFile == "" {
		return db.Secret(ctx, "token_secret")
	}
	key, err := readSecretFile(a.cfg.SecretFile)
	if err != nil {
		return nil, err
	}
	if !a.secretChecked {
		a.secretChecked = true
		stored, err := db.StoredSecret(ctx, "token_secret")
		switch {
		case err != nil:
			return nil, err
		case stored != nil && subtle.ConstantTimeCompare(stored, key) == 1:
			a.log.Warn("the database still holds a copy of the link-signing key: delete it (docs/OPERATIONS.md, \"The link-signing key\") so that a copy of the database cannot forge links",
				"secret_file", a.cfg.SecretFile)
		case stored != nil:
			a.log.Warn("--secret-file differs from the database's key: links mailed before it was set no longer work, unless that was meant (see docs/OPERATIONS.md, \"The link-signing key\"); delete the database's key once done",
				"secret_file", a.cfg.SecretFile)
		}
	}
	return key, nil
}

// readSecretFile reads a link-signing key: hex digits (surrounding white
// space ignored) for at least 32 bytes, in a regular file that neither its
// group nor others may read or write.
func readSecretFile(path string) ([]byte, error) {
	const howTo = "(umask 077; openssl rand -hex 32 > FILE)"
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--secret-file %s: no such file; make one with %s, or export the database's key (docs/OPERATIONS.md)", path, howTo)
	}
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--secret-file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("--secret-file %s: mode %04o lets group or others at the key; chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	// The error never quotes the file: it may be a key with a typo.
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("--secret-file %s: want the key as hex digits only, as %s writes it", path, howTo)
	}
	if len(key) < minSecretBytes {
		return nil, fmt.Errorf("--secret-file %s: a %d-byte key, want at least %d bytes (%d hex digits): %s", path, len(key), minSecretBytes, 2*minSecretBytes, howTo)
	}
	return key, nil
}
