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
	"time"

	"bothsides/sqlite"
)

// ErrRateLimited is returned by SignUp when the client's network made too
// many sign-ups recently. (Too many for one address is not an error: the
// answer must not depend on the address.)
var ErrRateLimited = errors.New("too many sign-ups from this network; try again later")

// Limit allows N attempts per Window.
type Limit struct {
	N      int
	Window time.Duration
}

// SignUpConfig holds the sign-up limits. Zero values take the defaults.
type SignUpConfig struct {
	// PendingExpiry is how long a confirmation link stays valid; an
	// unconfirmed sign-up is deleted after it. Default 48h.
	PendingExpiry time.Duration
	// PerAddress caps confirmation mails to one address; default 3 a day.
	PerAddress Limit
	// PerNetwork caps sign-ups from one client network (an IPv4 address or
	// an IPv6 /64); default 20 an hour.
	PerNetwork Limit
}

// Defaults for SignUpConfig.
const (
	DefaultPendingExpiry = 48 * time.Hour
)

func (c SignUpConfig) withDefaults() SignUpConfig {
	if c.PendingExpiry <= 0 {
		c.PendingExpiry = DefaultPendingExpiry
	}
	if c.PerAddress.N <= 0 || c.PerAddress.Window <= 0 {
		c.PerAddress = Limit{N: 3, Window: 24 * time.Hour}
	}
	if c.PerNetwork.N <= 0 || c.PerNetwork.Window <= 0 {
		c.PerNetwork = Limit{N: 20, Window: time.Hour}
	}
	return c
}

// SignUp is what the sign-up form sends.
type SignUp struct {
	Email, Name, Timezone string
	Topics                []string
	// Network identifies the client for rate limiting (see web's client
	// network); empty skips the per-network limit.
	Network string
}

// SignUpOutcome says which mail, if any, a sign-up calls for. The web page
// shows the same answer for every outcome.
type SignUpOutcome int

// The sign-up outcomes.
const (
	// SignUpNothing: mail nothing (the address was erased, complained, or
	// reached its limit of confirmation mails).
	SignUpNothing SignUpOutcome = iota
	// SignUpConfirm: mail a confirmation link (new, pending, unsubscribed or
	// bounced address).
	SignUpConfirm
	// SignUpAlreadyActive: mail a note that the address is already
	// subscribed, with its preferences link.
	SignUpAlreadyActive
)

func (o SignUpOutcome) String() string {
	switch o {
	case SignUpConfirm:
		return "confirm"
	case SignUpAlreadyActive:
		return "already-active"
	}
	return "nothing"
}

// CleanSignUp validates and normalises a sign-up.
func CleanSignUp(in SignUp) (SignUp, error) {
	var err error
	if in.Email, err = NormalizeAddress(in.Email); err != nil {
		return in, err
	}
	if in.Name, err = CleanName(in.Name); err != nil {
		return in, err
	}
	if in.Timezone, err = CleanTimezone(in.Timezone); err != nil {
		return in, err
	}
	if in.Topics, err = CleanTopics(in.Topics); err != nil {
		return in, err
	}
	return in, nil
}

// SignUp records a sign-up from the web form and says what to mail. A new
// address becomes pending; a pending one keeps its first details and gets a
// new confirmation; an unsubscribed or bounced one stays so until it
// confirms.
// Invalid input returns an error wrapping ErrInvalidAddress or ErrInvalid;
// a network over its limit gets ErrRateLimited.
func (s *Store) SignUp(ctx context.Context, in SignUp, cfg SignUpConfig) (*Subscriber, SignUpOutcome, error) {
	cfg = cfg.withDefaults()
	in, err := CleanSignUp(in)
	if err != nil {
		return nil, SignUpNothing, err
	}
	hash, err := s.addressHash(ctx, in.Email)
	if err != nil {
		return nil, SignUpNothing, err
	}
	addrKey, err := s.limitHash(ctx, "address", strings.ToLower(in.Email))
	if err != nil {
		return nil, SignUpNothing, err
	}
	var netKey string
	if in.Network != "" {
		if netKey, err = s.limitHash(ctx, "network", in.Network); err != nil {
			return nil, SignUpNothing, err
		}
	}
	nowT := s.db.Now()
	now := sqlite.Time(nowT)
	outcome := SignUpNothing
	var id int64
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Forget attempts older than the longest window.
		oldest := nowT.Add(-max(cfg.PerAddress.Window, cfg.PerNetwork.Window))
		if _, err := tx.ExecContext(ctx, `DELETE FROM signup_attempts WHERE at < ?`, sqlite.Time(oldest)); err != nil {
			return err
		}
		if netKey != "" {
			ok, err := allow(ctx, tx, netKey, cfg.PerNetwork, nowT)
			if err != nil || !ok {
				if err == nil {
					err = ErrRateLimited
				}
				return err
			}
		}
		if suppressed, err := isSuppressed(ctx, tx, hash); err != nil || suppressed {
			return err
		}
		ok, err := allow(ctx, tx, addrKey, cfg.PerAddress, nowT)
		if err != nil || !ok {
			return err
		}
		var status string
		err = tx.QueryRowContext(ctx, `SELECT id, status FROM subscribers WHERE email = ? COLLATE NOCASE
			ORDER BY email = ? DESC, id LIMIT 1`, in.Email, in.Email).Scan(&id, &status)
		if errors.Is(err, sql.ErrNoRows) {
			outcome = SignUpConfirm
			return tx.QueryRowContext(ctx, `INSERT INTO subscribers
				(id, email, name, status, timezone, topics, source, created_at, updated_at, confirm_sent_at)
				VALUES (`+nextID+`, ?, ?, 'pending', ?, ?, 'signup', ?, ?, ?) RETURNING id`,
				in.Email, in.Name, in.Timezone, topicsJSON(in.Topics), now, now, now).Scan(&id)
		}
		if err != nil {
			return err
		}
		switch Status(status) {
		case StatusPending, StatusUnsubscribed, StatusBounced:
			// A new confirmation link, and nothing else: anyone can submit
			// the form for any address, so a pending sign-up keeps the
			// details it was made with until it is confirmed,
			// and the others change theirs only through their preferences
			// link.
			outcome = SignUpConfirm
			_, err = tx.ExecContext(ctx, `UPDATE subscribers SET confirm_sent_at = ?, updated_at = ? WHERE id = ?`, now, now, id)
		case StatusActive:
			outcome = SignUpAlreadyActive
		}
		return err
	})
	if errors.Is(err, ErrRateLimited) {
		return nil, SignUpNothing, err
	}
	if err != nil {
		return nil, SignUpNothing, fmt.Errorf("sign up: %w", err)
	}
	if outcome == SignUpNothing {
		return nil, outcome, nil
	}
	sub, err := s.Find(ctx, id)
	if err != nil {
		return nil, SignUpNothing, err
	}
	return sub, outcome, nil
}

// ConfirmExpires returns when the confirmation link of sub's open sign-up
// expires, or the zero time when none is open.
func ConfirmExpires(sub *Subscriber, cfg SignUpConfig) time.Time {
	if sub.ConfirmSentAt.IsZero() {
		return time.Time{}
	}
	return sub.ConfirmSentAt.Add(cfg.withDefaults().PendingExpiry)
}

// Confirm activates the subscriber of a confirmation link. Confirming an
// active subscriber again changes nothing; a sign-up that is no longer open
// (expired, or the subscriber unsubscribed since) is ErrInvalidToken.
func (s *Store) Confirm(ctx context.Context, id int64, cfg SignUpConfig) (*Subscriber, error) {
	cfg = cfg.withDefaults()
	nowT := s.db.Now()
	now := sqlite.Time(nowT)
	cutoff := sqlite.Time(nowT.Add(-cfg.PendingExpiry))
	// Durable: the answer tells the reader they are subscribed.
	err := s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		var status string
		var sent sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT status, confirm_sent_at FROM subscribers WHERE id = ?`, id).Scan(&status, &sent)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if Status(status) == StatusActive {
			return nil
		}
		if !sent.Valid || sent.String < cutoff || Status(status) == StatusComplained {
			return ErrInvalidToken
		}
		_, err = tx.ExecContext(ctx, `UPDATE subscribers SET status = 'active', confirmed_at = ?, confirm_sent_at = NULL,
			unsubscribed_at = NULL, bounces = 0, updated_at = ? WHERE id = ?`, now, now, id)
		return err
	})
	if errors.Is(err, ErrInvalidToken) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("confirm subscriber %d: %w", id, err)
	}
	return s.Find(ctx, id)
}

// ExpirePending deletes sign-ups never confirmed within expiry (default
// 48h) and closes expired re-subscriptions of unsubscribed or bounced
// subscribers. It returns how many pending subscribers it deleted.
func (s *Store) ExpirePending(ctx context.Context, expiry time.Duration) (int, error) {
	if expiry <= 0 {
		expiry = DefaultPendingExpiry
	}
	cutoff := sqlite.Time(s.db.Now().Add(-expiry))
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers
			WHERE status = 'pending' AND COALESCE(confirm_sent_at, created_at) < ?`, cutoff)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE subscribers SET confirm_sent_at = NULL
			WHERE status != 'pending' AND confirm_sent_at < ?`, cutoff)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire pending sign-ups: %w", err)
	}
	return int(n), nil
}

// limitHash is the rate-limit key of a value: kind and a keyed hash, so
// that the table holds no address or IP in the clear.
func (s *Store) limitHash(ctx context.Context, kind, value string) (string, error) {
	key, err := s.secret(ctx, "ratelimit_secret", &s.limitKey)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return kind + ":" + hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// allow records an attempt under key and reports true when fewer than
// l.N were recorded in the window before now. A refused attempt is not
// recorded, so the table stays bounded and the lock-out slides.
func allow(ctx context.Context, tx *sql.Tx, key string, l Limit, now time.Time) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signup_attempts WHERE key = ? AND at > ?`,
		key, sqlite.Time(now.Add(-l.Window))).Scan(&n); err != nil {
		return false, err
	}
	if n >= l.N {
		return false, nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO signup_attempts (key, at) VALUES (?, ?)`, key, sqlite.Time(now))
	return err == nil, err
}
