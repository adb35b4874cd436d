package web

import (
	"net/http"

	"bothsides/subscribers"
)

type unsubscribeData struct {
	Email, Action, PreferencesURL, ResubscribeURL string
	Done                                          bool
}

// unsubscribePage asks for confirmation. It never unsubscribes by itself:
// mail scanners follow links with GET.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	id, err := s.signer.Verify(subscribers.PurposeUnsubscribe, token, s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	sub, err := s.subs.Find(r.Context(), id)
	if err != nil {
		s.error(w, r, err)
		return
	}
	data := unsubscribeData{Email: sub.Email, Action: "/unsubscribe/" + token,
		PreferencesURL: "/preferences/" + s.signer.Token(subscribers.PurposePreferences, id, noExpiry)}
	data.Done = sub.Status == subscribers.StatusUnsubscribed
	s.render(w, r, http.StatusOK, "unsubscribe", data)
}

// unsubscribe handles both the button on the page and the RFC 8058
// one-click POST a mail provider sends (body List-Unsubscribe=One-Click, no
// cookies): the signed token in the path is the only credential either needs.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	id, err := s.signer.Verify(subscribers.PurposeUnsubscribe, token, s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	_ = r.ParseForm()
	if err := s.subs.Unsubscribe(r.Context(), id); err != nil {
		s.error(w, r, err)
		return
	}
	sub, err := s.subs.Find(r.Context(), id)
	if err != nil {
		s.error(w, r, err)
		return
	}
	oneClick := r.PostForm.Get("List-Unsubscribe") == "One-Click"
	s.cfg.Logger.Info("unsubscribed", "subscriber", id, "one_click", oneClick)
	s.render(w, r, http.StatusOK, "unsubscribe", unsubscribeData{
		Email: sub.Email, Done: true,
		PreferencesURL: "/preferences/" + s.signer.Token(subscribers.PurposePreferences, id, noExpiry),
	})
}
