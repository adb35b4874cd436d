package subscribers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"bothsides/sqlite"
)

// secret returns a server secret from the settings, cached.
func (s *Store) secret(ctx context.Context, name string, dst *[]byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *dst != nil {
		return *dst, nil
	}
	key, err := s.db.Secret(ctx, name)
	if err != nil {
		return nil, err
	}
	*dst = key
	return key, nil
}

// addressHash is the suppression list's one-way hash of a normalised
// address: HMAC-SHA256 keyed with the suppression_secret setting over the
// lower-cased address. Keyed, so that the list cannot be checked against a
// list of known addresses without the database's secret; whole-address
// lower-cased, so that Ana@ and ana@ are the same person. The secret must
// never be rotated: the list would stop matching.
func (s *Store) addressHash(ctx context.Context, addr string) (string, error) {
	key, err := s.secret(ctx, "suppression_secret", &s.hashKey)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(addr)))
	return hex.EncodeToString(m.Sum(nil)), nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func isSuppressed(ctx context.Context, q querier, hash string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM suppressions WHERE hash = ?`, hash).Scan(&n); err != nil {
		return false, fmt.Errorf("check suppression list: %w", err)
	}
	return n > 0, nil
}

// IsSuppressed reports whether the address was erased and must never be
// mailed again.
func (s *Store) IsSuppressed(ctx context.Context, email string) (bool, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return false, err
	}
	hash, err := s.addressHash(ctx, addr)
	if err != nil {
		return false, err
	}
	return isSuppressed(ctx, s.db.R, hash)
}

// reportEmailMatch finds story reports left with an address: the form
// stores it as typed, so compare trimmed and without regard to ASCII case,
// with both the typed and the normalised (punycode) form.
const reportEmailMatch = `email != '' AND (trim(email) = ? COLLATE NOCASE OR trim(email) = ? COLLATE NOCASE)`

func reportEmailArgs(typed, addr string) []any {
	return []any{strings.TrimSpace(typed), addr}
}

// EraseResult says what Erase did.
type EraseResult struct {
	Email      string // the normalised address
	Deleted    int    // subscriber rows deleted (0 or 1, more for case variants)
	Deliveries int    // delivery ledger rows deleted with them
	Reports    int    // story reports whose reply address was blanked
	WasListed  bool   // the address was already on the suppression list
}

// Erase deletes every piece of personal data held on the address (the
// subscriber row, its delivery ledger rows and its rate-limit records) and
// puts the address's one-way hash on the suppression list, so that no later
// import, add or sign-up mails it again. It succeeds when the address is not
// a subscriber too: it is suppressed all the same.
func (s *Store) Erase(ctx context.Context, email string) (EraseResult, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return EraseResult{}, err
	}
	hash, err := s.addressHash(ctx, addr)
	if err != nil {
		return EraseResult{}, err
	}
	limitKey, err := s.limitHash(ctx, "address", strings.ToLower(addr))
	if err != nil {
		return EraseResult{}, err
	}
	res := EraseResult{Email: addr}
	now := sqlite.Time(s.db.Now())
	// Durable: an erasure reported done must not come back after a power cut.
	err = s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		// Overwrite the deleted rows with zeros instead of leaving them in
		// free pages (a setting of the writer connection, kept on).
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return err
		}
		var stored string
		err := tx.QueryRowContext(ctx, `SELECT email FROM subscribers WHERE email = ? COLLATE NOCASE ORDER BY email = ? DESC LIMIT 1`, addr, addr).Scan(&stored)
		if err == nil {
			res.Email = stored
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries
			WHERE subscriber_id IN (SELECT id FROM subscribers WHERE email = ? COLLATE NOCASE)`, addr).Scan(&res.Deliveries); err != nil {
			return err
		}
		// Deliveries go with the subscriber (ON DELETE CASCADE).
		r, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE email = ? COLLATE NOCASE`, addr)
		if err != nil {
			return err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return err
		}
		res.Deleted = int(n)
		if _, err := tx.ExecContext(ctx, `DELETE FROM signup_attempts WHERE key = ?`, limitKey); err != nil {
			return err
		}
		// Readers' reports on stories keep their text (it is about the
		// story) but lose the reply address.
		r, err = tx.ExecContext(ctx, `UPDATE reports SET email = '' WHERE `+reportEmailMatch, reportEmailArgs(email, addr)...)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		res.Reports = int(n)
		r, err = tx.ExecContext(ctx, `INSERT INTO suppressions (hash, reason, created_at) VALUES (?, 'erased', ?)
			ON CONFLICT (hash) DO NOTHING`, hash, now)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		res.WasListed = n == 0
		return err
	})
	if err != nil {
		return EraseResult{}, fmt.Errorf("erase subscriber: %w", err)
	}
	// Old copies of the pages may sit in the write-ahead log: move them into
	// the database file (where they are zeroed) and truncate the log.
	// Readers in progress may keep it from completing; the log is then
	// overwritten by later writes.
	if _, err := s.db.W.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return res, fmt.Errorf("erase subscriber: checkpoint: %w", err)
	}
	return res, nil
}
