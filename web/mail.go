package web

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"

	"bothsides/mailer"
	"bothsides/subscribers"
	"bothsides/templates"
)

// subscriberMail is a pair of templates for one kind of mail to a person
// who used the sign-up form.
type subscriberMail struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func parseSubscriberMail(name, subject string) (subscriberMail, error) {
	t, err := texttemplate.ParseFS(templates.FS, "email/"+name+".txt")
	if err != nil {
		return subscriberMail{}, fmt.Errorf("parse mail %s: %w", name, err)
	}
	h, err := htmltemplate.ParseFS(templates.FS, "email/"+name+".html")
	if err != nil {
		return subscriberMail{}, fmt.Errorf("parse mail %s: %w", name, err)
	}
	return subscriberMail{subject: subject, text: t, html: h}, nil
}

// mailData fills the sign-up mails.
type mailData struct {
	Name, Email                    string
	ConfirmURL, Expires            string
	PreferencesURL, UnsubscribeURL string
	PostalAddress                  string
}

// signUpMail builds the mail a sign-up calls for.
func (s *Server) signUpMail(sub *subscribers.Subscriber, outcome subscribers.SignUpOutcome) (*mailer.Message, error) {
	d := mailData{Name: sub.Name, Email: sub.Email, PostalAddress: s.cfg.PostalAddress}
	toName := sub.Name
	var m subscriberMail
	switch outcome {
	case subscribers.SignUpConfirm:
		// Anyone can type anything into the form for someone else's
		// address: a confirmation mail carries none of it (no name in the
		// greeting or the To header), so the form cannot be used to mail
		// strangers a message of one's choosing.
		d.Name, toName = "", ""
		exp := subscribers.ConfirmExpires(sub, s.cfg.SignUp)
		d.ConfirmURL = s.cfg.BaseURL + "/confirm/" + s.signer.Sign(subscribers.PurposeConfirm,
			subscribers.Claims{Subscriber: sub.ID, Generation: sub.LinkGeneration, Expires: exp})
		d.Expires = exp.UTC().Format("Monday 2 January 2006, 15:04 UTC")
		m = s.mails.confirm
	case subscribers.SignUpAlreadyActive:
		d.PreferencesURL = s.cfg.BaseURL + "/preferences/" + s.link(subscribers.PurposePreferences, sub)
		d.UnsubscribeURL = s.cfg.BaseURL + "/unsubscribe/" + s.link(subscribers.PurposeUnsubscribe, sub)
		m = s.mails.active
	default:
		return nil, fmt.Errorf("no mail for sign-up outcome %v", outcome)
	}
	return s.subscriberMessage(m, d, sub, toName)
}

// newLinksMail is the mail with fresh preferences and unsubscribe links
// sent after a reader signed out all their links.
func (s *Server) newLinksMail(sub *subscribers.Subscriber) (*mailer.Message, error) {
	d := mailData{Name: sub.Name, Email: sub.Email, PostalAddress: s.cfg.PostalAddress,
		PreferencesURL: s.cfg.BaseURL + "/preferences/" + s.link(subscribers.PurposePreferences, sub),
		UnsubscribeURL: s.cfg.BaseURL + "/unsubscribe/" + s.link(subscribers.PurposeUnsubscribe, sub)}
	return s.subscriberMessage(s.mails.links, d, sub, sub.Name)
}

func (s *Server) subscriberMessage(m subscriberMail, d mailData, sub *subscribers.Subscriber, toName string) (*mailer.Message, error) {
	var text, html bytes.Buffer
	if err := m.text.Execute(&text, d); err != nil {
		return nil, fmt.Errorf("render %s mail: %w", m.subject, err)
	}
	if err := m.html.Execute(&html, d); err != nil {
		return nil, fmt.Errorf("render %s mail: %w", m.subject, err)
	}
	return &mailer.Message{
		From:      s.cfg.From,
		ReplyTo:   s.cfg.ReplyTo,
		To:        sub.Email,
		ToName:    toName,
		Subject:   m.subject,
		MessageID: fmt.Sprintf("signup.s%d.%s", sub.ID, mailer.NewMessageID(s.cfg.From)),
		Date:      s.now(),
		Headers:   []mailer.Header{{Name: "Auto-Submitted", Value: "auto-generated"}},
		Text:      text.Bytes(),
		HTML:      html.Bytes(),
	}, nil
}

// startOutbox starts the sign-up mail workers and the hourly expiry of
// unconfirmed sign-ups.
func (s *Server) startOutbox() {
	s.out = newOutbox(s.cfg.Outbox, s.cfg.Mailer.Send, s.cfg.Logger, s.now, s.cfg.Registerer)
	s.expireStop = make(chan struct{})
	s.expireDone = make(chan struct{})
	go func() {
		defer close(s.expireDone)
		expire := time.NewTicker(time.Hour)
		defer expire.Stop()
		s.expirePending()
		for {
			select {
			case <-expire.C:
				s.expirePending()
			case <-s.expireStop:
				return
			}
		}
	}()
}

func (s *Server) expirePending() {
	n, err := s.subs.ExpirePending(context.Background(), s.cfg.SignUp.PendingExpiry)
	if err != nil {
		s.cfg.Logger.Error("expire pending sign-ups", "err", err)
		return
	}
	if n > 0 {
		s.cfg.Logger.Info("expired unconfirmed sign-ups", "deleted", n)
	}
}

// Close commits the unsubscribes still queued, sends the sign-up mails
// still held, retries pulled forward (for at most 15 seconds; the rest are
// logged and counted as dropped), and stops the background work. Call it
// after the HTTP server has shut down and before the database closes.
func (s *Server) Close() {
	s.unsubs.Close()
	if s.out == nil {
		return
	}
	s.closing.Do(func() {
		close(s.expireStop)
		<-s.expireDone
		s.out.close()
	})
}
