package web

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"sync"
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
		d.ConfirmURL = s.cfg.BaseURL + "/confirm/" + s.signer.Token(subscribers.PurposeConfirm, sub.ID, exp)
		d.Expires = exp.UTC().Format("Monday 2 January 2006, 15:04 UTC")
		m = s.mails.confirm
	case subscribers.SignUpAlreadyActive:
		d.PreferencesURL = s.cfg.BaseURL + "/preferences/" + s.signer.Token(subscribers.PurposePreferences, sub.ID, noExpiry)
		d.UnsubscribeURL = s.cfg.BaseURL + "/unsubscribe/" + s.signer.Token(subscribers.PurposeUnsubscribe, sub.ID, noExpiry)
		m = s.mails.active
	default:
		return nil, fmt.Errorf("no mail for sign-up outcome %v", outcome)
	}
	var text, html bytes.Buffer
	if err := m.text.Execute(&text, d); err != nil {
		return nil, fmt.Errorf("render %s mail: %w", outcome, err)
	}
	if err := m.html.Execute(&html, d); err != nil {
		return nil, fmt.Errorf("render %s mail: %w", outcome, err)
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

// outbox sends sign-up mails in the background, so that a sign-up answers
// at once and in the same time whether or not a mail goes out (the timing
// must not tell whether an address is subscribed).
type outbox struct {
	q       chan *mailer.Message
	stop    chan struct{}
	done    sync.WaitGroup
	closing sync.Once
}

// Delays between attempts of a sign-up mail that failed temporarily.
var mailRetryDelays = []time.Duration{10 * time.Second, time.Minute}

func (s *Server) startWorker() {
	s.out = &outbox{q: make(chan *mailer.Message, 256), stop: make(chan struct{})}
	s.out.done.Add(1)
	go s.work()
}

// enqueue hands a mail to the worker; a full queue drops it (and logs).
func (s *Server) enqueue(m *mailer.Message) {
	select {
	case s.out.q <- m:
	default:
		s.cfg.Logger.Error("sign-up mail queue full; mail dropped", "message_id", m.MessageID)
	}
}

func (s *Server) work() {
	defer s.out.done.Done()
	// base ends drainTimeout after Close: what is queued or being retried
	// then gets that long to go out.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	go func() {
		select {
		case <-s.out.stop:
		case <-base.Done():
			return
		}
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelBase()
		case <-base.Done():
		}
	}()
	send := func(m *mailer.Message) {
		if base.Err() != nil {
			s.cfg.Logger.Error("sign-up mail dropped at shutdown", "message_id", m.MessageID)
			return
		}
		ctx, cancel := context.WithTimeout(base, 2*time.Minute)
		defer cancel()
		s.deliver(ctx, m)
	}
	expire := time.NewTicker(time.Hour)
	defer expire.Stop()
	s.expirePending()
	for {
		select {
		case m := <-s.out.q:
			send(m)
		case <-expire.C:
			s.expirePending()
		case <-s.out.stop:
			for {
				select {
				case m := <-s.out.q:
					send(m)
				default:
					return
				}
			}
		}
	}
}

// drainTimeout bounds how long Close waits for queued sign-up mails.
const drainTimeout = 15 * time.Second

func (s *Server) deliver(ctx context.Context, m *mailer.Message) {
	for attempt := 0; ; attempt++ {
		err := s.cfg.Mailer.Send(ctx, m)
		if err == nil {
			s.cfg.Logger.Info("sign-up mail sent", "message_id", m.MessageID)
			return
		}
		if mailer.IsPermanent(err) || attempt >= len(mailRetryDelays) || ctx.Err() != nil {
			s.cfg.Logger.Error("sign-up mail failed", "message_id", m.MessageID, "attempts", attempt+1, "err", mailer.RedactError(err))
			return
		}
		s.cfg.Logger.Warn("sign-up mail will be retried", "message_id", m.MessageID, "err", mailer.RedactError(err))
		t := time.NewTimer(mailRetryDelays[attempt])
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.cfg.Logger.Error("sign-up mail failed", "message_id", m.MessageID, "attempts", attempt+1, "err", mailer.RedactError(err))
			return
		}
	}
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

// Close sends the sign-up mails still queued (for at most 15 seconds; the
// rest are logged as dropped) and stops the background worker. Call it after the HTTP server has shut down and before the
// database closes.
func (s *Server) Close() {
	if s.out == nil {
		return
	}
	s.out.closing.Do(func() { close(s.out.stop) })
	s.out.done.Wait()
}
