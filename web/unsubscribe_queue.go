package web

import (
	"context"
	"sync"
)

// unsubscribeBatch bounds how many unsubscribes share one commit;
// unsubscribeQueued how many wait for one before a request blocks.
const (
	unsubscribeBatch  = 128
	unsubscribeQueued = 1024
)

// unsubscribeQueue commits one-click unsubscribes in groups: a burst of
// them (a mail provider forwarding its users' clicks) would otherwise cost
// one synchronous=FULL commit, an fsync, each. One goroutine takes
// whatever requests are waiting, up to unsubscribeBatch, and commits them
// in one durable transaction; each request is answered only once its own
// change is committed. The tokens are checked before a request is queued,
// so one reader's bad link cannot fail another's unsubscribe. When a
// group's transaction fails, each of its requests is tried again alone and
// answered with its own result: none is lost, and none fails for
// another's sake.
type unsubscribeQueue struct {
	// commit records ids in one transaction (subscribers.Store.UnsubscribeMany):
	// one error per id, or the transaction's.
	commit func(ctx context.Context, ids []int64) ([]error, error)

	start sync.Once
	mu    sync.RWMutex // held to read closed and send; Lock to close reqs
	// closed is set once the queue is drained: later requests commit alone.
	closed bool
	reqs   chan *unsubscribeRequest
	done   chan struct{} // closed when the goroutine has answered the last request
}

type unsubscribeRequest struct {
	id     int64
	answer chan error
}

func newUnsubscribeQueue(commit func(ctx context.Context, ids []int64) ([]error, error)) *unsubscribeQueue {
	return &unsubscribeQueue{commit: commit, reqs: make(chan *unsubscribeRequest, unsubscribeQueued), done: make(chan struct{})}
}

// Unsubscribe queues id and returns once its unsubscribe is committed, or
// with the error that kept it from being committed. The caller's
// cancellation does not withdraw it: an unsubscribe that was asked for is
// recorded.
func (q *unsubscribeQueue) Unsubscribe(id int64) error {
	q.start.Do(func() { go q.run() })
	r := &unsubscribeRequest{id: id, answer: make(chan error, 1)}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return q.alone(id)
	}
	q.reqs <- r
	q.mu.RUnlock()
	return <-r.answer
}

// Close answers every queued request, then stops the goroutine; requests
// after it commit alone.
func (q *unsubscribeQueue) Close() {
	q.start.Do(func() { go q.run() })
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.reqs)
	}
	q.mu.Unlock()
	<-q.done
}

func (q *unsubscribeQueue) run() {
	defer close(q.done)
	batch := make([]*unsubscribeRequest, 0, unsubscribeBatch)
	for first := range q.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		q.flush(batch)
	}
}

// flush commits one group and answers each of its requests.
func (q *unsubscribeQueue) flush(batch []*unsubscribeRequest) {
	ids := make([]int64, len(batch))
	for i, r := range batch {
		ids[i] = r.id
	}
	errs, err := q.commit(context.Background(), ids)
	if err != nil && len(batch) > 1 {
		// Nothing of the group was recorded: each alone, so that what
		// failed it fails only its own request.
		for _, r := range batch {
			r.answer <- q.alone(r.id)
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.answer <- err
		} else {
			r.answer <- errs[i]
		}
	}
}

// alone commits one unsubscribe by itself.
func (q *unsubscribeQueue) alone(id int64) error {
	errs, err := q.commit(context.Background(), []int64{id})
	if err != nil {
		return err
	}
	return errs[0]
}
