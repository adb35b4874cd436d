package web

import (
	"net/http"
	"strings"

	"bothsides/subscribers"
)

type unsubscribeData struct {
	Email, Action, PreferencesURL, ResubscribeURL string
	Mailto, MailtoAddress                         string
	Done                                          bool
}

func (s *Server) unsubscribeData(sub *subscribers.Subscriber, token string) unsubscribeData {
	d := unsubscribeData{Email: sub.Email, Action: "/unsubscribe/" + token, PreferencesURL: s.preferencesURL(sub)}
	if sub.Status != subscribers.StatusActive && sub.Status != subscribers.StatusPending {
		d.Done = true
	}
	// Only an unsubscribed reader can come back with a click: a bounced or
	// complained one signs up again and confirms.
	if sub.Status == subscribers.StatusUnsubscribed {
		d.ResubscribeURL = "/resubscribe/" + s.link(subscribers.PurposePreferences, sub)
	}
	if m := s.cfg.UnsubscribeMailto; m != "" {
		d.Mailto = m
		addr, _, _ := strings.Cut(strings.TrimPrefix(m, "mailto:"), "?")
		d.MailtoAddress = addr
	}
	return d
}

// unsubscribePage asks for confirmation. It never unsubscribes by itself:
// mail scanners follow links with GET.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	sub, err := s.subs.FindByToken(r.Context(), s.signer, subscribers.PurposeUnsubscribe, token, s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribe", s.unsubscribeData(sub, token))
}

// unsubscribe handles both the button on the page and the RFC 8058
// one-click POST a mail provider sends (body List-Unsubscribe=One-Click, no
// cookies): the signed token in the path is the only credential either
// needs. It is idempotent, and unsubscribes whatever the body holds.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	found, err := s.subs.FindByToken(r.Context(), s.signer, subscribers.PurposeUnsubscribe, token, s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	id := found.ID
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	// Committed with whatever other unsubscribes are waiting, and answered
	// once committed; a mail provider that hangs up meanwhile does not
	// withdraw it.
	if err := s.unsubs.Unsubscribe(id); err != nil {
		s.error(w, r, err)
		return
	}
	// What the commit did, without reading the row again: an active,
	// pending or unsubscribed reader is now unsubscribed; a bounced or
	// complained one keeps that status.
	sub := *found
	switch sub.Status {
	case subscribers.StatusActive, subscribers.StatusPending, subscribers.StatusUnsubscribed:
		sub.Status = subscribers.StatusUnsubscribed
	}
	oneClick := r.PostForm.Get("List-Unsubscribe") == "One-Click"
	s.cfg.Logger.Info("unsubscribed", "subscriber", id, "one_click", oneClick)
	d := s.unsubscribeData(&sub, token)
	d.Done = true
	s.render(w, r, http.StatusOK, "unsubscribe", d)
}
