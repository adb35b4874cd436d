package web

import (
	"context"
	"net/http"

	"bothsides/subscribers"
)

// revokeLinks is the preferences page's "Sign out all my links": it bumps
// the reader's link generation, so that every link mailed so far (this
// one included) stops working, and mails fresh links to the address: only
// its mailbox gets them, so a leaked link handed to someone else is dead
// and cannot be swapped for a live one.
func (s *Server) revokeLinks(w http.ResponseWriter, r *http.Request) {
	sub, _, err := s.preferencesSubscriber(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	// Not r.Context(): the reader asked for it; a hang-up must not undo it.
	sub, err = s.subs.RevokeLinks(context.WithoutCancel(r.Context()), sub.ID)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.cfg.Logger.Info("links revoked", "subscriber", sub.ID, "by", "subscriber", "generation", sub.LinkGeneration)
	text := "The links in the mails we sent before, this one included, no longer work."
	if s.out != nil && (sub.Status == subscribers.StatusActive || sub.Status == subscribers.StatusUnsubscribed) && s.out.reserve() {
		m, err := s.newLinksMail(sub)
		if err != nil {
			s.out.release()
			s.error(w, r, err)
			return
		}
		s.out.add(m)
		text += " We are mailing new ones to " + sub.Email + "."
	} else {
		// No mail queue, a reader who is not mailed, or a full outbox
		// (counted and logged by reserve): the links are revoked all the
		// same, and the next mail carries new ones.
		text += " Your next briefing brings new ones."
	}
	s.renderMessage(w, r, http.StatusOK, "All your links are signed out", text)
}
