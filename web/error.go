package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/mailer"
	"bothsides/schedule"
	"bothsides/subscribers"
	"bothsides/webhook"
)

// Kinds of expected errors of the web package itself: 400, 409, 404 and
// 413.
var (
	errTooLarge = errors.New("too large")
	errBadInput = errors.New("bad input")
	errConflict = errors.New("conflict")
	errNotFound = errors.New("not found")
)

// userError is an expected error whose message is meant for the admin as
// it is; its kind decides the status.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

func badInput(format string, args ...any) error {
	return &userError{errBadInput, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &userError{errConflict, fmt.Sprintf(format, args...)}
}

// failure is how a request that failed with an error is answered.
type failure struct {
	Code int
	// Page is the public pages' heading and text.
	Page message
	// Detail is the console's message: an expected error's own words,
	// nothing of an unexpected one.
	Detail string
	// Body is the API's JSON body: {"error": Detail}, and an import's
	// problems.
	Body map[string]any
}

// What an unexpected error shows: nothing of the error itself.
var (
	internalPage   = message{Heading: "Internal error", Text: "Something went wrong on our side. Please try again later.", Error: true}
	internalDetail = "Something went wrong on our side; the server log has the details."
)

// statusOf maps the domain's expected errors to their status; anything
// else is an internal error.
func statusOf(err error) int {
	switch {
	case errors.Is(err, subscribers.ErrInvalidToken), errors.Is(err, schedule.ErrInvalid), errors.Is(err, errBadInput),
		errors.Is(err, subscribers.ErrInvalidAddress), errors.Is(err, subscribers.ErrInvalid),
		errors.As(err, new(*digest.ImportError)), errors.Is(err, webhook.ErrMalformed), errors.Is(err, feeds.ErrInvalid),
		errors.Is(err, digest.ErrInvalidEdit), errors.Is(err, digest.ErrSameStory):
		return http.StatusBadRequest
	case errors.Is(err, webhook.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, subscribers.ErrNotFound), errors.Is(err, digest.ErrStoryNotFound), errors.Is(err, digest.ErrNoEdition),
		errors.Is(err, errNotFound), errors.Is(err, schedule.ErrNotFound), errors.Is(err, digest.ErrReportNotFound),
		errors.Is(err, feeds.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, schedule.ErrExists), errors.Is(err, schedule.ErrBusy), errors.Is(err, schedule.ErrClaimed),
		errors.Is(err, errConflict), errors.Is(err, digest.ErrEditionStarted), errors.Is(err, digest.ErrBadTransition),
		errors.Is(err, feeds.ErrExists), errors.Is(err, digest.ErrStoryMailed):
		return http.StatusConflict
	case errors.Is(err, subscribers.ErrOptInRequired):
		return http.StatusForbidden
	case errors.Is(err, digest.ErrNoStories):
		return http.StatusUnprocessableEntity
	case errors.Is(err, schedule.ErrShutdown):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// failureOf maps err to its status and to the words each surface shows:
// an expected error's own message (the public pages have kinder words for
// the errors a reader meets), and for anything else words that leak
// nothing.
func failureOf(err error) failure {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		return failure{Code: code, Page: internalPage, Detail: internalDetail, Body: map[string]any{"error": internalDetail}}
	}
	f := failure{Code: code, Detail: err.Error(), Body: map[string]any{"error": err.Error()},
		Page: message{Heading: http.StatusText(code), Text: err.Error(), Error: true}}
	switch {
	case errors.Is(err, subscribers.ErrExpiredToken):
		f.Page = message{Heading: "This link has expired", Text: "Links to your preferences work for 30 days, unsubscribe links for 90. Use the link from your most recent email, or enter your address on the sign-up page (/subscribe) and we will mail you fresh links.", Error: true}
	case errors.Is(err, subscribers.ErrOptInRequired):
		f.Page = message{Heading: "Sign up again to come back", Text: "This address can come back only through a new sign-up confirmed from its mailbox.", Error: true}
	case errors.Is(err, subscribers.ErrInvalidToken):
		f.Page = message{Heading: "This link is not valid", Text: "The link is broken, was changed, or has expired. Use the link from your most recent email.", Error: true}
	case errors.Is(err, subscribers.ErrNotFound):
		f.Page = message{Heading: "Subscriber not found", Text: "This link belongs to an address that is no longer on our list.", Error: true}
	case errors.Is(err, digest.ErrStoryNotFound):
		f.Page = message{Heading: "Story not found", Text: "There is no story at this address.", Error: true}
	case errors.Is(err, digest.ErrNoEdition), errors.Is(err, errNotFound):
		f.Page = message{Heading: "Not found", Text: "There is nothing at this address.", Error: true}
	}
	var ie *digest.ImportError
	if errors.As(err, &ie) {
		var probs []string
		for _, p := range ie.Problems {
			probs = append(probs, p.String())
		}
		f.Body = map[string]any{"error": "nothing imported", "problems": probs}
	}
	return f
}

// progressRoute is the console's progress poll: JSON, like the API.
const progressRoute = "GET /admin/editions/{schedule}/{date}/progress"

// answersJSON reports whether r's route answers in JSON: the API, the
// console's progress poll and the webhooks.
func answersJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/webhooks/") || r.Pattern == progressRoute
}

// writeError answers a request that failed with err, in the shape of its
// route: a JSON body for the API and the progress poll, else the message
// page that page writes (the public site's or the console's). Anything
// unexpected is logged and shown as an internal error; a request its
// client abandoned gets no answer. The log names the route's pattern, not
// the path: the token pages' paths are working links. Addresses in the
// error's text are redacted.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, page func(http.ResponseWriter, *http.Request, failure)) {
	f := failureOf(err)
	if f.Code == http.StatusInternalServerError {
		if errors.Is(err, context.Canceled) {
			log.Debug("request abandoned by the client", "method", r.Method, "route", r.Pattern)
			return
		}
		log.Error("request failed", "method", r.Method, "route", r.Pattern, "err", mailer.RedactError(err))
	}
	if answersJSON(r) {
		writeJSON(w, f.Code, f.Body)
		return
	}
	page(w, r, f)
}

// error answers a public page's request that failed.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, s.cfg.Logger, err, s.errorPage)
}

// errorPage writes the public message page of f; it does not go through
// render, whose own failures come here.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, f failure) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(f.Code)
	s.pages["message"].Execute(w, f.Page)
}

// error answers a console or API request that failed.
func (a *Admin) error(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, a.log, err, a.errorPage)
}

// errorPage writes the console's message page of f.
func (a *Admin) errorPage(w http.ResponseWriter, r *http.Request, f failure) {
	a.render(w, r, f.Code, "message", message{Heading: http.StatusText(f.Code), Text: f.Detail, Error: true})
}
