package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"bothsides/digest"
)

type reportData struct {
	Story   *digest.Story
	Kinds   []digest.ReportKind
	Kind    string
	Message string
	Email   string
	Error   string
	Field   string
	Done    bool
	Max     int
}

// reportPage shows the "Report an issue" form for a story.
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.stories.Story(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "report", reportData{Story: st, Kinds: digest.ReportKinds, Max: digest.MaxReportMessage})
}

// report stores a reader's report. A filled honeypot field gets the same
// thanks page as a real report, and stores nothing.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	st, err := s.stories.Story(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusRequestEntityTooLarge, "report", reportData{Story: st, Kinds: digest.ReportKinds, Max: digest.MaxReportMessage,
			Error: "The report is too large; please keep it under 2,000 characters.", Field: "message"})
		return
	}
	data := reportData{Story: st, Kinds: digest.ReportKinds, Max: digest.MaxReportMessage,
		Kind: r.PostForm.Get("kind"), Message: r.PostForm.Get("message"), Email: r.PostForm.Get("email")}
	if r.PostForm.Get("website") != "" {
		s.cfg.Logger.Info("report honeypot filled; dropped", "story", st.ID)
		s.render(w, r, http.StatusOK, "report", reportData{Story: st, Done: true})
		return
	}
	client, err := s.clientKey(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	rep := &digest.Report{StoryID: st.ID, Kind: data.Kind, Message: data.Message, Email: data.Email}
	err = s.stories.AddReport(r.Context(), rep, client, s.cfg.ReportLimit)
	var re *digest.ReportError
	switch {
	case errors.As(err, &re):
		data.Error, data.Field = re.Error(), re.Field
		s.render(w, r, http.StatusBadRequest, "report", data)
		return
	case errors.Is(err, digest.ErrRateLimited):
		data.Error = "You have sent several reports in a short time. Please try again in an hour."
		s.render(w, r, http.StatusTooManyRequests, "report", data)
		return
	case err != nil:
		s.error(w, r, err)
		return
	}
	s.cfg.Logger.Info("story report received", "story", st.ID, "version", rep.Version, "kind", rep.Kind, "report", rep.ID)
	s.render(w, r, http.StatusOK, "report", reportData{Story: st, Done: true})
}

// clientKey returns a keyed hash of the client's network (see
// clientNetwork: the proxy's client-IP header when configured, an IPv6
// client's /64), so that rate limits work without storing addresses.
func (s *Server) clientKey(r *http.Request) (string, error) {
	key, err := s.db.Secret(r.Context(), "client_key")
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s.clientNetwork(r)))
	return hex.EncodeToString(m.Sum(nil)[:16]), nil
}
