package web

import (
	"errors"
	"net/http"

	"bothsides/subscribers"
)

type confirmData struct {
	Email, Action, PreferencesURL string
	Done, Invalid                 bool
}

// confirmPage shows the confirmation link's page: one button. Following the
// link alone changes nothing, because mail scanners follow links; a
// confirmed subscriber sees that they are subscribed.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	sub, err := s.confirmSubscriber(r, token)
	if err != nil {
		s.confirmError(w, r, err)
		return
	}
	d := confirmData{Email: sub.Email, Action: "/confirm/" + token}
	if sub.Status == subscribers.StatusActive {
		d.Done, d.PreferencesURL = true, s.preferencesURL(sub)
	} else if sub.ConfirmSentAt.IsZero() {
		s.confirmError(w, r, subscribers.ErrInvalidToken)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", d)
}

// confirm activates the subscriber. Confirming twice is harmless.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	found, err := s.confirmSubscriber(r, token)
	if err != nil {
		s.confirmError(w, r, err)
		return
	}
	sub, err := s.subs.Confirm(r.Context(), found.ID, s.cfg.SignUp)
	if err != nil {
		s.confirmError(w, r, err)
		return
	}
	s.cfg.Logger.Info("subscription confirmed", "subscriber", sub.ID)
	s.render(w, r, http.StatusOK, "confirm", confirmData{Email: sub.Email, Done: true, PreferencesURL: s.preferencesURL(sub)})
}

func (s *Server) confirmSubscriber(r *http.Request, token string) (*subscribers.Subscriber, error) {
	return s.subs.FindByToken(r.Context(), s.signer, subscribers.PurposeConfirm, token, s.now())
}

// confirmError explains a link that no longer works and offers the form:
// an expired sign-up has been deleted, so signing up again is the way.
func (s *Server) confirmError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, subscribers.ErrInvalidToken) || errors.Is(err, subscribers.ErrNotFound) {
		s.render(w, r, http.StatusBadRequest, "confirm", confirmData{Invalid: true})
		return
	}
	s.error(w, r, err)
}

func (s *Server) preferencesURL(sub *subscribers.Subscriber) string {
	return "/preferences/" + s.link(subscribers.PurposePreferences, sub)
}

// link returns a fresh token for sub's link for p, at their link
// generation and with the lifetime of p.
func (s *Server) link(p subscribers.Purpose, sub *subscribers.Subscriber) string {
	return s.signer.Link(p, sub.ID, sub.LinkGeneration, s.now())
}
