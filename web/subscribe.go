package web

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"bothsides/subscribers"
	"bothsides/templates"
)

// subscriberRoutes adds the pages a reader reaches without an account: the
// sign-up form, the confirmation link, preferences, resubscribing, and the
// static script they share.
func (s *Server) subscriberRoutes(mux *http.ServeMux) {
	// Browsers say where a form POST comes from (Sec-Fetch-Site, Origin);
	// refuse cross-site ones. Requests without those headers (curl, mail
	// providers) pass: the signed token is what protects the token pages.
	cop := http.NewCrossOriginProtection()
	mux.HandleFunc("GET /subscribe", s.subscribePage)
	mux.Handle("POST /subscribe", cop.Handler(http.HandlerFunc(s.subscribe)))
	mux.HandleFunc("GET /confirm/{token}", s.confirmPage)
	mux.Handle("POST /confirm/{token}", cop.Handler(http.HandlerFunc(s.confirm)))
	mux.Handle("POST /preferences/{token}", cop.Handler(http.HandlerFunc(s.savePreferences)))
	mux.Handle("POST /resubscribe/{token}", cop.Handler(http.HandlerFunc(s.resubscribe)))
	mux.Handle("POST /preferences/{token}/revoke", cop.Handler(http.HandlerFunc(s.revokeLinks)))
	static, _ := fs.Sub(templates.FS, "web/static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /static/{file}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

type subscribeData struct {
	Email, Name, Timezone string
	Topics                []topicChoice
	Error, Field          string
	Done                  bool
	Expiry                string
}

func (s *Server) subscribeForm(r *http.Request, d *subscribeData, chosen []string) error {
	topics, err := s.topicChoices(r.Context(), chosen)
	if err != nil {
		return err
	}
	d.Topics = topics
	return nil
}

// subscribePage shows the sign-up form.
func (s *Server) subscribePage(w http.ResponseWriter, r *http.Request) {
	var d subscribeData
	if err := s.subscribeForm(r, &d, nil); err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "subscribe", d)
}

// subscribe records a sign-up and queues the mail it calls for. Whatever
// the address (new, pending, subscribed, unsubscribed, erased, over its
// limit) the answer is the same page, sent before any mail goes out, so
// that the form tells nobody who is subscribed.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Mailer == nil {
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Sign-up is closed", "This server cannot send mail at the moment, so it cannot confirm a sign-up. Please try again later.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderMessage(w, r, http.StatusBadRequest, "Sign-up not sent", "The form could not be read. Please go back and try again.")
		return
	}
	f := r.PostForm
	in := subscribers.SignUp{Email: f.Get("email"), Name: f.Get("name"), Timezone: f.Get("timezone"),
		Topics: f["topics"], Network: s.clientNetwork(r)}
	done := subscribeData{Done: true, Expiry: humanDuration(s.cfg.SignUp.PendingExpiry)}
	if f.Get("website") != "" {
		// The honeypot: people never see this field, naive bots fill it.
		s.cfg.Logger.Info("sign-up honeypot filled; dropped")
		s.render(w, r, http.StatusOK, "subscribe", done)
		return
	}
	// Room for the mail is taken before anything is stored, for every
	// address alike: a full outbox refuses all sign-ups the same way, and
	// nobody is told "check your inbox" for a mail that could not be queued.
	if !s.out.reserve() {
		w.Header().Set("Retry-After", "60")
		s.renderMessage(w, r, http.StatusServiceUnavailable, "Sign-up not sent",
			"Too many sign-ups are waiting for their mail right now, so yours was not recorded. Please try again in a minute.")
		return
	}
	queued := false
	defer func() {
		if !queued {
			s.out.release()
		}
	}()
	sub, outcome, err := s.subs.SignUp(r.Context(), in, s.cfg.SignUp)
	if err != nil {
		d := subscribeData{Email: in.Email, Name: in.Name, Timezone: in.Timezone}
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, subscribers.ErrInvalidAddress):
			d.Error, d.Field = "Please check the email address: "+reason(err, subscribers.ErrInvalidAddress), "email"
		case errors.Is(err, subscribers.ErrInvalid):
			d.Error, d.Field = "Please check the form: "+reason(err, subscribers.ErrInvalid), fieldOf(err)
		case errors.Is(err, subscribers.ErrRateLimited):
			code, d.Error = http.StatusTooManyRequests, "There were many sign-ups from your network in the last hour. Please try again later."
			w.Header().Set("Retry-After", "3600")
		default:
			s.error(w, r, err)
			return
		}
		if err := s.subscribeForm(r, &d, in.Topics); err != nil {
			s.error(w, r, err)
			return
		}
		s.render(w, r, code, "subscribe", d)
		return
	}
	if outcome != subscribers.SignUpNothing {
		m, err := s.signUpMail(sub, outcome)
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.out.add(m)
		queued = true
	}
	s.cfg.Logger.Info("sign-up", "outcome", outcome.String())
	s.render(w, r, http.StatusOK, "subscribe", done)
}

// reason strips the sentinel's text from a validation error.
func reason(err, sentinel error) string {
	msg := strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
	if msg == "" {
		return sentinel.Error()
	}
	return msg
}

// fieldOf names the form field a validation error is about.
func fieldOf(err error) string {
	var fe *subscribers.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func (s *Server) renderMessage(w http.ResponseWriter, r *http.Request, code int, heading, text string) {
	s.render(w, r, code, "message", message{Heading: heading, Text: text, Error: code >= 400})
}
