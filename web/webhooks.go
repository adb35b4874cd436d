package web

import (
	"errors"
	"io"
	"net/http"

	"bothsides/bounce"
	"bothsides/webhook"
)

// webhookRoutes mounts POST /webhooks/NAME for each configured sending
// service; a service not configured has no route (404).
func (s *Server) webhookRoutes(mux *http.ServeMux) {
	if s.cfg.Bounces == nil {
		return
	}
	for _, p := range s.cfg.Webhooks {
		mux.HandleFunc("POST /webhooks/"+p.Name(), s.webhook(p))
	}
}

// webhook answers one provider's posts: the body capped at
// webhook.MaxBody (413 beyond), authenticated and read by the provider
// (401, 400), each event recorded. The answer is 200 with the number of
// events recorded, also when the post held only kinds bothsides ignores.
// If recording fails midway the answer is 500 and the service posts again;
// the store records each event once.
func (s *Server) webhook(p webhook.Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tooLarge := &userError{errTooLarge, "webhook body larger than 1 MiB"}
		if r.ContentLength > webhook.MaxBody {
			s.error(w, r, tooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.MaxBody))
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				err = tooLarge
			}
			s.error(w, r, err)
			return
		}
		evs, err := p.Events(r, body)
		if err != nil {
			if errors.Is(err, webhook.ErrUnauthorized) {
				s.cfg.Logger.Warn("webhook refused", "provider", p.Name(), "err", err)
				if p.Name() == "postmark" {
					w.Header().Set("WWW-Authenticate", `Basic realm="bothsides webhooks"`)
				}
			}
			s.error(w, r, err)
			return
		}
		counts := map[bounce.Kind]int{}
		for _, ev := range evs {
			if err := s.cfg.Bounces.Record(r.Context(), ev); err != nil {
				s.error(w, r, err)
				return
			}
			counts[ev.Kind]++
		}
		if ack, ok := p.(webhook.Acknowledger); ok {
			ack.Acknowledged(body)
		}
		if len(evs) > 0 {
			s.cfg.Logger.Info("webhook events", "provider", p.Name(), "events", len(evs),
				"hard", counts[bounce.KindHard], "soft", counts[bounce.KindSoft],
				"complaints", counts[bounce.KindComplaint], "delivered", counts[bounce.KindDelivered])
		}
		writeJSON(w, http.StatusOK, map[string]int{"events": len(evs)})
	}
}
