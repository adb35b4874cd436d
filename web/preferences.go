package web

import (
	"net/http"

	"bothsides/subscribers"
)

func (s *Server) preferencesPage(w http.ResponseWriter, r *http.Request) {
	id, err := s.signer.Verify(subscribers.PurposePreferences, r.PathValue("token"), s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	sub, err := s.subs.Find(r.Context(), id)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "preferences", map[string]any{
		"Subscriber":     sub,
		"UnsubscribeURL": "/unsubscribe/" + s.signer.Token(subscribers.PurposeUnsubscribe, id, noExpiry),
	})
}
