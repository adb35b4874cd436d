package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Secret returns the server secret stored under name, generating and storing
// a random 32-byte one on first use.
func (db *DB) Secret(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		var v string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, name).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			b := make([]byte, 32)
			rand.Read(b)
			v = hex.EncodeToString(b)
			_, err = tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, name, v)
		}
		if err != nil {
			return err
		}
		out, err = hex.DecodeString(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load secret %s: %w", name, err)
	}
	return out, nil
}

// StoredSecret returns the secret stored under name, or nil when there is
// none; unlike Secret it never creates one.
func (db *DB) StoredSecret(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := db.R.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load secret %s: %w", name, err)
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("load secret %s: %w", name, err)
	}
	return b, nil
}
