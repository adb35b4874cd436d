package web

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
