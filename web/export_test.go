package web

import "context"

// WrapUnsubscribeCommit replaces the commit of the server's unsubscribe
// queue with wrap(commit); call it before the first unsubscribe.
func WrapUnsubscribeCommit(s *Server, wrap func(commit func(context.Context, []int64) ([]error, error)) func(context.Context, []int64) ([]error, error)) {
	s.unsubs.commit = wrap(s.unsubs.commit)
}

// QueuedUnsubscribes is how many unsubscribes wait in the queue for the
// goroutine to take them.
func QueuedUnsubscribes(s *Server) int { return len(s.unsubs.reqs) }

// HoldCheck takes the admin password check until release is called: logins
// queue behind it, as behind a slow PBKDF2.
func HoldCheck(a *Admin) (release func()) {
	for range checkSlots {
		a.guard.check <- struct{}{}
	}
	return func() {
		for range checkSlots {
			<-a.guard.check
		}
	}
}

// QueuedLogins is how many login attempts wait for or are in the check.
func QueuedLogins(a *Admin) int {
	a.guard.mu.Lock()
	defer a.guard.mu.Unlock()
	return a.guard.queued
}
