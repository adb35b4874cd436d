package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"bothsides/sqlite"
)

// EditionStatus is where an edition stands, as stored in editions.status.
type EditionStatus string

// The edition statuses. An edition is assembled (frozen, not started), then
// sending until nothing is pending, then sent; it can be paused (by an
// operator or the sender's breaker) and resumed, or cancelled for good.
const (
	EditionAssembled EditionStatus = "assembled"
	EditionSending   EditionStatus = "sending"
	EditionPaused    EditionStatus = "paused"
	EditionSent      EditionStatus = "sent"
	EditionCancelled EditionStatus = "cancelled"
)

// ErrBadTransition is returned by SetEditionStatus for a change that is not
// allowed, such as resuming a cancelled edition.
var ErrBadTransition = errors.New("edition status cannot change that way")

// SetEditionStatus pauses, resumes or cancels an edition:
//   - EditionPaused stops a send between messages (the sender returns
//     delivery.ErrPaused); allowed from sending.
//   - EditionSending resumes a paused edition; the caller then runs the
//     sender again, which carries on from the ledger.
//   - EditionCancelled stops it for good; allowed from assembled, sending
//     and paused. Deliveries already made stay in the ledger.
//
// Changing to the status the edition already has is not an error.
func SetEditionStatus(ctx context.Context, db *sqlite.DB, editionID int64, status EditionStatus) error {
	var from []EditionStatus
	switch status {
	case EditionPaused:
		from = []EditionStatus{EditionSending}
	case EditionSending:
		from = []EditionStatus{EditionPaused}
	case EditionCancelled:
		from = []EditionStatus{EditionAssembled, EditionSending, EditionPaused}
	default:
		return fmt.Errorf("%w: unknown status %q (want paused, sending or cancelled)", ErrBadTransition, status)
	}
	return db.Tx(ctx, func(tx *sql.Tx) error {
		var cur EditionStatus
		err := tx.QueryRowContext(ctx, `SELECT status FROM editions WHERE id = ?`, editionID).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: id %d", ErrNoEdition, editionID)
		}
		if err != nil {
			return fmt.Errorf("edition %d status: %w", editionID, err)
		}
		if cur == status {
			return nil
		}
		if !slices.Contains(from, cur) {
			return fmt.Errorf("%w: %s to %s", ErrBadTransition, cur, status)
		}
		reason := ""
		if status != EditionSending {
			reason = "by an operator"
		}
		_, err = tx.ExecContext(ctx, `UPDATE editions SET status = ?, pause_reason = ? WHERE id = ?`, status, reason, editionID)
		return err
	})
}
