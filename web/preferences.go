package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"bothsides/subscribers"
)

// The preferences page needs no CSRF token: the signed token in its path is
// the credential, and a page on another site cannot know it. Cross-site
// form posts are refused all the same (see subscriberRoutes).

type hourChoice struct {
	Value, Label string
	Selected     bool
}

type preferencesData struct {
	Subscriber     *subscribers.Subscriber
	Name, Timezone string
	Topics         []topicChoice
	Hours          []hourChoice
	PauseWeeks     []int
	PausedUntil    string
	Action         string
	UnsubscribeURL string
	ResubscribeURL string
	RevokeURL      string
	// Resubscribe offers the button: only an unsubscribed reader comes
	// back with a click.
	Resubscribe  bool
	Active       bool
	StatusNote   string
	Notice       string
	Error, Field string
}

func (s *Server) preferencesData(r *http.Request, sub *subscribers.Subscriber, token string) (preferencesData, error) {
	d := preferencesData{Subscriber: sub, Name: sub.Name, Timezone: sub.Timezone,
		Action: "/preferences/" + token, Active: sub.Status == subscribers.StatusActive,
		UnsubscribeURL: "/unsubscribe/" + s.link(subscribers.PurposeUnsubscribe, sub),
		RevokeURL:      "/preferences/" + token + "/revoke",
		Resubscribe:    sub.Status == subscribers.StatusUnsubscribed}
	if d.Resubscribe {
		d.ResubscribeURL = "/resubscribe/" + token
	}
	switch sub.Status {
	case subscribers.StatusUnsubscribed:
		d.StatusNote = "You unsubscribed"
	case subscribers.StatusBounced:
		d.StatusNote = "Mail to this address bounced, so we stopped. To receive the briefing again, sign up again and confirm from your mailbox"
	case subscribers.StatusComplained:
		d.StatusNote = "Our mail to this address was reported as spam, so we stopped. Write to us if that was a mistake"
	case subscribers.StatusPending:
		d.StatusNote = "The subscription is not confirmed yet"
	}
	for w := 1; w <= subscribers.MaxPauseWeeks; w++ {
		d.PauseWeeks = append(d.PauseWeeks, w)
	}
	if sub.Paused(s.now()) {
		d.PausedUntil = sub.PausedUntil.UTC().Format("Monday 2 January 2006")
	}
	d.Hours = []hourChoice{{Value: "", Label: "The usual time of the daily send", Selected: sub.PreferredHour == subscribers.NoPreferredHour}}
	for h := 0; h < 24; h++ {
		d.Hours = append(d.Hours, hourChoice{Value: strconv.Itoa(h), Label: fmt.Sprintf("%02d:00", h), Selected: sub.PreferredHour == h})
	}
	var err error
	d.Topics, err = s.topicChoices(r.Context(), sub.Topics)
	return d, err
}

func (s *Server) preferencesSubscriber(r *http.Request) (*subscribers.Subscriber, string, error) {
	token := r.PathValue("token")
	sub, err := s.subs.FindByToken(r.Context(), s.signer, subscribers.PurposePreferences, token, s.now())
	return sub, token, err
}

// preferencesPage shows the subscriber's preferences form.
func (s *Server) preferencesPage(w http.ResponseWriter, r *http.Request) {
	sub, token, err := s.preferencesSubscriber(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	d, err := s.preferencesData(r, sub, token)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "preferences", d)
}

// savePreferences saves the form: name, topics, time zone, hour, and a
// pause of 1 to 4 weeks (or resuming).
func (s *Server) savePreferences(w http.ResponseWriter, r *http.Request) {
	sub, token, err := s.preferencesSubscriber(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderMessage(w, r, http.StatusBadRequest, "Preferences not saved", "The form could not be read. Please go back and try again.")
		return
	}
	f := r.PostForm
	p := subscribers.Preferences{Name: f.Get("name"), Topics: f["topics"], Timezone: f.Get("timezone"), PreferredHour: subscribers.NoPreferredHour}
	fail := func(field string, err error) {
		d, derr := s.preferencesData(r, sub, token)
		if derr != nil {
			s.error(w, r, derr)
			return
		}
		d.Name, d.Timezone = p.Name, p.Timezone
		d.Error, d.Field = "Not saved: "+reason(err, subscribers.ErrInvalid), field
		s.render(w, r, http.StatusBadRequest, "preferences", d)
	}
	if h := f.Get("hour"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || n > 23 {
			fail("hour", &subscribers.FieldError{Field: "hour", Msg: "the hour must be between 0 and 23"})
			return
		}
		p.PreferredHour = n
	}
	pause := -1 // no change
	switch v := f.Get("pause"); v {
	case "":
	case "resume":
		pause = 0
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > subscribers.MaxPauseWeeks {
			fail("pause", &subscribers.FieldError{Field: "pause", Msg: fmt.Sprintf("a pause is 1 to %d weeks", subscribers.MaxPauseWeeks)})
			return
		}
		pause = n
	}
	updated, err := s.subs.UpdatePreferences(r.Context(), sub.ID, p)
	if errors.Is(err, subscribers.ErrInvalid) {
		fail(fieldOf(err), err)
		return
	}
	if err == nil && pause >= 0 {
		updated, err = s.subs.Pause(r.Context(), sub.ID, pause)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	d, err := s.preferencesData(r, updated, token)
	if err != nil {
		s.error(w, r, err)
		return
	}
	d.Notice = "Your preferences are saved."
	s.render(w, r, http.StatusOK, "preferences", d)
}

// resubscribe makes an unsubscribed reader active again from their
// preferences link (offered on the unsubscribe result page). A bounced,
// complained or pending reader is refused (403) with a page that says how
// to come back: a fresh sign-up and its confirmation.
func (s *Server) resubscribe(w http.ResponseWriter, r *http.Request) {
	sub, token, err := s.preferencesSubscriber(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if sub.Status != subscribers.StatusActive {
		status := sub.Status
		if sub, err = s.subs.Resubscribe(r.Context(), sub.ID); errors.Is(err, subscribers.ErrOptInRequired) {
			text := "To receive the briefing again, sign up at /subscribe and confirm from your mailbox."
			switch status {
			case subscribers.StatusComplained:
				text = "Our mail to this address was reported as spam, so we stopped and will not mail it again on a link's say-so. If that was a mistake, write to us from this address."
			case subscribers.StatusBounced:
				text = "Mail to this address bounced, so we stopped. " + text
			case subscribers.StatusPending:
				text = "This subscription is not confirmed yet: use the confirmation link we mailed, or sign up again at /subscribe."
			}
			s.renderMessage(w, r, http.StatusForbidden, "Not resubscribed", text)
			return
		}
		if err != nil {
			s.error(w, r, err)
			return
		}
		s.cfg.Logger.Info("resubscribed", "subscriber", sub.ID)
	}
	d, err := s.preferencesData(r, sub, token)
	if err != nil {
		s.error(w, r, err)
		return
	}
	d.Notice = "Welcome back: you are subscribed again."
	s.render(w, r, http.StatusOK, "preferences", d)
}
