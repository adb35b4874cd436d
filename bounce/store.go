package bounce

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"bothsides/sqlite"
	"bothsides/subscribers"
)

// Config configures a Store. Zero values take the defaults noted.
type Config struct {
	// Signer verifies delivery tokens (subscribers.Signer.VerifyDelivery);
	// without one no token matches.
	Signer *subscribers.Signer
	// BounceLimit is how many hard bounces make a subscriber bounced, the
	// same limit the sender applies to refusals at send time; default 3.
	BounceLimit int
	// SoftLimit soft bounces, on as many different editions, within
	// SoftWindow make a subscriber bounced; defaults 5 and 30 days.
	SoftLimit  int
	SoftWindow time.Duration
	// RawCap is how many bytes of a report are kept; default 64 KiB.
	RawCap int
	// RawRetention is how long a report's bytes are kept; the event itself
	// stays. Default 30 days.
	RawRetention time.Duration
	Logger       *slog.Logger
}

// Defaults for Config.
const (
	DefaultBounceLimit  = 3
	DefaultSoftLimit    = 5
	DefaultSoftWindow   = 30 * 24 * time.Hour
	DefaultRawCap       = 64 << 10
	DefaultRawRetention = 30 * 24 * time.Hour
)

// Store keeps bounce events in the bounces table, matches each to its
// delivery and applies its effect on the subscriber in the same
// transaction. It is the one Recorder and Receiver.
type Store struct {
	cfg  Config
	db   *sqlite.DB
	subs *subscribers.Store

	mu        sync.Mutex
	lastPrune time.Time
}

var (
	_ Recorder = (*Store)(nil)
	_ Receiver = (*Store)(nil)
)

// New returns a store over db.
func New(db *sqlite.DB, cfg Config) *Store {
	if cfg.BounceLimit <= 0 {
		cfg.BounceLimit = DefaultBounceLimit
	}
	if cfg.SoftLimit <= 0 {
		cfg.SoftLimit = DefaultSoftLimit
	}
	if cfg.SoftWindow <= 0 {
		cfg.SoftWindow = DefaultSoftWindow
	}
	if cfg.RawCap <= 0 {
		cfg.RawCap = DefaultRawCap
	}
	if cfg.RawRetention <= 0 {
		cfg.RawRetention = DefaultRawRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Store{cfg: cfg, db: db, subs: subscribers.NewStore(db)}
}

// The effects an event can have, as stored in bounces.effect.
const (
	EffectComplained = "complained"     // the subscriber became complained
	EffectCounted    = "bounce counted" // a hard bounce added to the count
	EffectBounced    = "bounced"        // the subscriber became bounced
	EffectNone       = ""
)

// Outcome says what Put did with one event.
type Outcome struct {
	ID        int64 // the stored row; 0 for a duplicate
	Duplicate bool  // the same event was recorded before: nothing changed
	Matched   string
	Effect    string
}

// Record stores ev, matches it and applies its effect (see Put).
func (s *Store) Record(ctx context.Context, ev Event) error {
	_, err := s.Put(ctx, ev)
	return err
}

// Put stores ev, matches it to its delivery and applies its effect, in one
// transaction. The same event twice (same Source and ExternalID, or the
// same raw report about the same recipient) is stored once.
func (s *Store) Put(ctx context.Context, ev Event) (Outcome, error) {
	if err := validEvent(ev); err != nil {
		return Outcome{}, err
	}
	var out Outcome
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.put(ctx, tx, ev)
		return err
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("record %s event from %s: %w", ev.Kind, ev.Source, err)
	}
	s.log(ev, out)
	s.maybePrune(ctx)
	return out, nil
}

// Receive parses one message that arrived for the bounce address and
// records its events in one transaction; a message it cannot read is
// stored as one unparsed event with the reason. An error means nothing
// was stored.
func (s *Store) Receive(ctx context.Context, source, envelopeTo string, raw []byte) (Receipt, error) {
	if source == "" {
		return Receipt{}, errors.New("receive report: no source")
	}
	evs, perr := ParseMessage(raw, envelopeTo)
	var rc Receipt
	if perr != nil {
		rc = Receipt{Unparsed: true, Reason: perr.Error()}
		evs = []Event{{Kind: KindUnparsed, Diagnostic: cleanText(perr.Error()), Token: verpToken(envelopeTo), Raw: raw}}
	}
	outs := make([]Outcome, len(evs))
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range evs {
			evs[i].Source = source
			out, err := s.put(ctx, tx, evs[i])
			if err != nil {
				return err
			}
			outs[i] = out
		}
		return nil
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("receive report from %s: %w", source, err)
	}
	for i, out := range outs {
		s.log(evs[i], out)
		if !out.Duplicate {
			rc.Events++
		}
	}
	s.maybePrune(ctx)
	return rc, nil
}

func validEvent(ev Event) error {
	switch ev.Kind {
	case KindHard, KindSoft, KindComplaint, KindAutoReply, KindDelivered, KindUnparsed, KindFeedback:
	default:
		return fmt.Errorf("record event: unknown kind %q", ev.Kind)
	}
	if ev.Source == "" {
		return fmt.Errorf("record %s event: no source", ev.Kind)
	}
	return nil
}

func (s *Store) log(ev Event, out Outcome) {
	if out.Duplicate {
		s.cfg.Logger.Debug("bounce event already recorded", "source", ev.Source, "kind", ev.Kind)
		return
	}
	// No address at info level: the domain says enough to an operator.
	s.cfg.Logger.Info("bounce event", "source", ev.Source, "kind", ev.Kind, "status", ev.Status,
		"domain", domainOf(ev.Recipient), "matched", out.Matched != "", "effect", out.Effect)
}

// put does Put's work inside tx.
func (s *Store) put(ctx context.Context, tx *sql.Tx, ev Event) (Outcome, error) {
	if err := validEvent(ev); err != nil {
		return Outcome{}, err
	}
	now := s.db.Now()
	at := ev.At
	if at.IsZero() {
		at = now
	}
	var hash string
	if len(ev.Raw) > 0 {
		sum := sha256.Sum256(ev.Raw)
		hash = hex.EncodeToString(sum[:])
	}
	raw := ev.Raw
	if len(raw) > s.cfg.RawCap {
		raw = raw[:s.cfg.RawCap]
	}
	// A webhook's fields come as they are: one line each, bounded.
	rcpt, status, extID := clip(ev.Recipient, 320), clip(ev.Status, 32), clip(ev.ExternalID, 256)
	sub, edition, matched, err := s.match(ctx, tx, ev, now)
	if err != nil {
		return Outcome{}, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO bounces (received_at, at, subscriber_id, edition_id, kind, status,
			diagnostic, source, recipient, domain, external_id, raw_hash, raw, raw_size, matched_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		sqlite.Time(now), sqlite.Time(at), nullID(sub), nullID(edition), string(ev.Kind), status,
		cleanText(ev.Diagnostic), ev.Source, rcpt, domainOf(rcpt), extID, hash, nullBytes(raw), len(ev.Raw), matched)
	if err != nil {
		return Outcome{}, fmt.Errorf("insert event: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return Outcome{Duplicate: true}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{ID: id, Matched: matched}
	if sub == 0 {
		return out, nil
	}
	if out.Effect, err = s.apply(ctx, tx, ev.Kind, id, sub, edition, now); err != nil {
		return Outcome{}, err
	}
	if out.Effect != EffectNone {
		if _, err := tx.ExecContext(ctx, `UPDATE bounces SET effect = ? WHERE id = ?`, out.Effect, id); err != nil {
			return Outcome{}, fmt.Errorf("record effect: %w", err)
		}
	}
	return out, nil
}

// match finds the delivery an event is about: a valid delivery token names
// it; without one, a verified event (a webhook's signature) names the
// subscriber by address and the latest edition sent to them. Anything else
// is unmatched (0, 0, "").
func (s *Store) match(ctx context.Context, tx *sql.Tx, ev Event, now time.Time) (sub, edition int64, by string, err error) {
	if ev.Token != "" && s.cfg.Signer != nil {
		e, sid, verr := s.cfg.Signer.VerifyDelivery(ev.Token, now)
		if verr == nil {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscribers WHERE id = ?`, sid).Scan(&n); err != nil {
				return 0, 0, "", fmt.Errorf("match token: %w", err)
			}
			if n == 0 {
				return 0, 0, "", nil // erased since: the report names nobody now
			}
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM editions WHERE id = ?`, e).Scan(&n); err != nil {
				return 0, 0, "", fmt.Errorf("match token: %w", err)
			}
			if n == 0 {
				e = 0
			}
			return sid, e, "token", nil
		}
	}
	if !ev.Verified || ev.Recipient == "" {
		return 0, 0, "", nil
	}
	addr, aerr := subscribers.NormalizeAddress(ev.Recipient)
	if aerr != nil {
		return 0, 0, "", nil
	}
	err = tx.QueryRowContext(ctx, `SELECT id FROM subscribers WHERE email = ? COLLATE NOCASE`, addr).Scan(&sub)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, "", nil
	}
	if err != nil {
		return 0, 0, "", fmt.Errorf("match recipient: %w", err)
	}
	var e sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT edition_id FROM deliveries
		WHERE subscriber_id = ? AND sent_at IS NOT NULL ORDER BY sent_at DESC, edition_id DESC LIMIT 1`, sub).Scan(&e)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, "", fmt.Errorf("match recipient: %w", err)
	}
	return sub, e.Int64, "recipient", nil
}

// apply changes the subscriber as the event says, inside tx: a complaint
// at once; a hard bounce counts toward BounceLimit, once per delivery; soft
// bounces suppress when SoftLimit editions bounced softly within
// SoftWindow. Other kinds change nothing.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, kind Kind, id, sub, edition int64, now time.Time) (string, error) {
	var before subscribers.Status
	if err := tx.QueryRowContext(ctx, `SELECT status FROM subscribers WHERE id = ?`, sub).Scan(&before); err != nil {
		return "", fmt.Errorf("subscriber status: %w", err)
	}
	switch kind {
	case KindComplaint:
		if before == subscribers.StatusComplained {
			return EffectNone, nil // a second complaint changes nothing
		}
		if _, err := s.subs.Complain(ctx, tx, sub); err != nil {
			return "", err
		}
		return EffectComplained, nil
	case KindHard:
		if edition != 0 {
			// A second report of the same failed delivery (a DSN and a
			// webhook, two relays) counts once.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM bounces WHERE subscriber_id = ? AND edition_id = ?
				AND kind = 'hard' AND effect != '' AND id != ?`, sub, edition, id).Scan(&n); err != nil {
				return "", fmt.Errorf("earlier hard bounces: %w", err)
			}
			if n > 0 {
				return EffectNone, nil
			}
		}
		st, _, err := s.subs.CountBounce(ctx, tx, sub, s.cfg.BounceLimit)
		if err != nil {
			return "", err
		}
		if st == subscribers.StatusBounced {
			return EffectBounced, nil
		}
		return EffectCounted, nil
	case KindSoft:
		// Distinct editions, so that a relay's several "delayed" notices
		// about one message count once; an unknown edition counts per event.
		// The count starts again after the last suppression, so that a
		// subscriber made active again is not suppressed by the same old
		// bounces at the next one.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT COALESCE(edition_id, -id)) FROM bounces
			WHERE subscriber_id = ?1 AND kind = 'soft' AND received_at >= ?2
			  AND id > COALESCE((SELECT MAX(id) FROM bounces WHERE subscriber_id = ?1 AND effect = 'bounced'), 0)`,
			sub, sqlite.Time(now.Add(-s.cfg.SoftWindow))).Scan(&n); err != nil {
			return "", fmt.Errorf("count soft bounces: %w", err)
		}
		if n < s.cfg.SoftLimit {
			return EffectNone, nil
		}
		st, err := s.subs.Suppress(ctx, tx, sub)
		if err != nil {
			return "", err
		}
		if before != st && st == subscribers.StatusBounced {
			return EffectBounced, nil
		}
	}
	return EffectNone, nil
}

// maybePrune drops old reports' bytes at most once an hour of the store's
// clock; a failure is logged, not returned (the event is recorded).
func (s *Store) maybePrune(ctx context.Context) {
	now := s.db.Now()
	s.mu.Lock()
	due := now.Sub(s.lastPrune) >= time.Hour || now.Before(s.lastPrune)
	if due {
		s.lastPrune = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if _, err := s.Prune(ctx); err != nil {
		s.cfg.Logger.Warn("prune bounce reports", "err", err)
	}
}

// Prune drops the bytes of reports recorded more than RawRetention ago
// (the events stay, with their hash for de-duplication) and returns how
// many it dropped.
func (s *Store) Prune(ctx context.Context) (int, error) {
	cutoff := sqlite.Time(s.db.Now().Add(-s.cfg.RawRetention))
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bounces SET raw = NULL WHERE raw IS NOT NULL AND received_at < ?`, cutoff)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune bounce reports: %w", err)
	}
	return int(n), nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(strings.TrimRight(addr[i+1:], ">. "))
	}
	return ""
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
