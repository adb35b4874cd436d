package subscribers

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"bothsides/sqlite"
)

// The token keys live in the settings table: key 0 is the original
// token_secret row, each rotation adds token_key_N (N one above the
// highest) with its creation time in token_key_N_created. The highest id
// signs; the others only verify, until retired.
const (
	legacyKeyName   = "token_secret"
	keyPrefix       = "token_key_"
	createdSuffix   = "_created"
	legacyIssuedKey = "token_legacy_issued"
)

// ErrKeyInUse is returned when retiring the key that signs.
var ErrKeyInUse = errors.New("the signing key cannot be retired; rotate first")

// KeyInfo describes one token key, for listings.
type KeyInfo struct {
	ID      uint32
	Created time.Time // zero for key 0 (made on first start)
	Signing bool
}

func keyName(id uint32) string {
	if id == 0 {
		return legacyKeyName
	}
	return keyPrefix + strconv.FormatUint(uint64(id), 10)
}

// storedKeys reads the ring: every key row and its creation time.
func storedKeys(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]Key, map[uint32]time.Time, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM settings
		WHERE key = ? OR substr(key, 1, length(?2)) = ?2`, legacyKeyName, keyPrefix)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var keys []Key
	created := map[uint32]time.Time{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, nil, err
		}
		var id uint64
		if name != legacyKeyName {
			num, isCreated := strings.CutSuffix(strings.TrimPrefix(name, keyPrefix), createdSuffix)
			if id, err = strconv.ParseUint(num, 10, 32); err != nil || id == 0 {
				continue // not a key row
			}
			if isCreated {
				created[uint32(id)], _ = sqlite.ParseTime(value)
				continue
			}
		}
		b, err := hex.DecodeString(value)
		if err != nil || len(b) == 0 {
			return nil, nil, fmt.Errorf("setting %s is not a hex key", name)
		}
		keys = append(keys, Key{ID: uint32(id), Secret: b})
	}
	return keys, created, rows.Err()
}

// LoadKeys returns the token key ring stored in db, making key 0 on first
// use.
func LoadKeys(ctx context.Context, db *sqlite.DB) ([]Key, error) {
	return loadKeys(ctx, db, nil)
}

// loadKeys returns the ring stored in db; with key0 set, that is key 0
// (the operator's secret file) and no key 0 is read or made in db.
func loadKeys(ctx context.Context, db *sqlite.DB, key0 []byte) ([]Key, error) {
	keys, _, err := storedKeys(ctx, db.R)
	if err != nil {
		return nil, fmt.Errorf("load token keys: %w", err)
	}
	if key0 != nil {
		ring := []Key{{ID: 0, Secret: key0}}
		for _, k := range keys {
			if k.ID != 0 {
				ring = append(ring, k)
			}
		}
		return ring, nil
	}
	if len(keys) > 0 {
		return keys, nil
	}
	secret, err := db.Secret(ctx, legacyKeyName)
	if err != nil {
		return nil, err
	}
	return []Key{{ID: 0, Secret: secret}}, nil
}

// NewSignerFrom returns a signer over the key ring stored in db that
// reloads it when a token names a key made since (a rotation by another
// process), and accepts the links mailed before key ids (see
// Signer.SetLegacyIssued).
func NewSignerFrom(ctx context.Context, db *sqlite.DB) (*Signer, error) {
	return NewSignerWithKey0(ctx, db, nil)
}

// NewSignerWithKey0 is NewSignerFrom with key 0 given (read from the
// operator's secret file) instead of stored in db, so that a copy of the
// database alone cannot forge the links key 0 signs. Keys added by
// rotation still live in db.
func NewSignerWithKey0(ctx context.Context, db *sqlite.DB, key0 []byte) (*Signer, error) {
	keys, err := loadKeys(ctx, db, key0)
	if err != nil {
		return nil, err
	}
	s, err := NewKeyring(keys)
	if err != nil {
		return nil, err
	}
	var v string
	err = db.R.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, legacyIssuedKey).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load %s: %w", legacyIssuedKey, err)
	}
	if t, perr := sqlite.ParseTime(v); perr == nil {
		s.SetLegacyIssued(t)
	}
	s.SetReload(func() ([]Key, error) { return loadKeys(context.Background(), db, key0) })
	return s, nil
}

// ListKeys describes the stored token keys in id order.
func ListKeys(ctx context.Context, db *sqlite.DB) ([]KeyInfo, error) {
	keys, created, err := storedKeys(ctx, db.R)
	if err != nil {
		return nil, fmt.Errorf("list token keys: %w", err)
	}
	var top uint32
	for _, k := range keys {
		top = max(top, k.ID)
	}
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyInfo{ID: k.ID, Created: created[k.ID], Signing: k.ID == top})
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// RotateKey adds a new random token key, one id above the highest ever
// stored, which signs from now on; the others stay to verify. It returns
// the new key's id. Processes already running pick it up when they meet a
// link it signed; they sign with it after a restart.
func RotateKey(ctx context.Context, db *sqlite.DB) (uint32, error) {
	if _, err := LoadKeys(ctx, db); err != nil { // key 0 first, on a new database
		return 0, err
	}
	var id uint32
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		// The highest id ever used, retired ones included, is kept in
		// token_key_seq: a retired id is never reused.
		var seq sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'token_key_seq'`).Scan(&seq); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		keys, _, err := storedKeys(ctx, tx)
		if err != nil {
			return err
		}
		var top uint64
		if seq.Valid {
			top, _ = strconv.ParseUint(seq.String, 10, 32)
		}
		for _, k := range keys {
			top = max(top, uint64(k.ID))
		}
		if top >= 1<<32-1 {
			return errors.New("no token key id left")
		}
		id = uint32(top + 1)
		b := make([]byte, 32)
		rand.Read(b)
		for _, kv := range [][2]string{
			{keyName(id), hex.EncodeToString(b)},
			{keyName(id) + createdSuffix, sqlite.Time(db.Now())},
		} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, kv[0], kv[1]); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('token_key_seq', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatUint(uint64(id), 10))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rotate token key: %w", err)
	}
	return id, nil
}

// RetireKey deletes a verify-only token key: every link it signed stops
// working. The signing key cannot be retired (ErrKeyInUse); an unknown id
// is ErrNotFound.
func RetireKey(ctx context.Context, db *sqlite.DB, id uint32) error {
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		keys, _, err := storedKeys(ctx, tx)
		if err != nil {
			return err
		}
		var top uint32
		found := false
		for _, k := range keys {
			top = max(top, k.ID)
			found = found || k.ID == id
		}
		if !found {
			return ErrNotFound
		}
		if id == top {
			return ErrKeyInUse
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM settings WHERE key IN (?, ?)`, keyName(id), keyName(id)+createdSuffix)
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrKeyInUse) {
		return fmt.Errorf("token key %d: %w", id, err)
	}
	if err != nil {
		return fmt.Errorf("retire token key %d: %w", id, err)
	}
	return nil
}
