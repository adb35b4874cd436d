package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"bothsides/sqlite"
)

// FindByToken verifies a signed link for purpose p at now and returns its
// subscriber. A link made at an older link generation than the
// subscriber's (revoked) is ErrInvalidToken like a forged one; an expired
// one is ErrExpiredToken; a subscriber since deleted is ErrNotFound.
func (s *Store) FindByToken(ctx context.Context, signer *Signer, p Purpose, token string, now time.Time) (*Subscriber, error) {
	c, err := signer.Verify(p, token, now)
	if err != nil {
		return nil, err
	}
	sub, err := s.Find(ctx, c.Subscriber)
	if err != nil {
		return nil, err
	}
	if sub.LinkGeneration != c.Generation {
		return nil, ErrInvalidToken
	}
	return sub, nil
}

// RevokeLinks bumps the subscriber's link generation: every unsubscribe,
// preferences and confirmation link made so far stops working, and links
// made from now on carry the new generation. It returns the subscriber
// after the change.
func (s *Store) RevokeLinks(ctx context.Context, id int64) (*Subscriber, error) {
	var gen int64
	err := s.db.W.QueryRowContext(ctx, `UPDATE subscribers SET link_generation = link_generation + 1, updated_at = ?
		WHERE id = ? RETURNING link_generation`, sqlite.Time(s.db.Now()), id).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("revoke links of %d: %w", id, err)
	}
	return s.Find(ctx, id)
}
