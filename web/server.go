// Package web serves bothsides over HTTP: the subscriber pages behind the
// links in every mail (unsubscribe, preferences) and the public archive of
// editions and stories.
package web

import (
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bothsides/bounce"
	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/templates"
	"bothsides/webhook"
)

// Config configures the web server.
type Config struct {
	BaseURL string
	Logger  *slog.Logger
	// ReportLimit bounds the "Report an issue" form per client.
	ReportLimit digest.ReportLimit

	// Mailer sends the sign-up mails (confirmation, already subscribed)
	// through the same path as the digest. Without it the sign-up form
	// answers 503.
	Mailer        delivery.Mailer
	From, ReplyTo string
	PostalAddress string
	// UnsubscribeMailto, when set (mailto:unsubscribe@example.com), is
	// offered on the unsubscribe page as another way to leave.
	UnsubscribeMailto string
	// SignUp sets the pending expiry and the sign-up rate limits.
	SignUp subscribers.SignUpConfig
	// Outbox sizes the background sending of sign-up mails: workers,
	// capacity and retry delays.
	Outbox OutboxConfig
	// Registerer, when set, gets the web server's own metrics (the sign-up
	// mail outbox's); serve passes the registry it exposes at /metrics.
	Registerer prometheus.Registerer
	// Metrics, when set, is served at GET /metrics (Prometheus text format):
	// to the bearer MetricsToken when that is set, else to loopback
	// clients only.
	Metrics      http.Handler
	MetricsToken string
	// ClientIPHeader names a header set by a trusted reverse proxy holding
	// the client's IP (X-Real-IP, or X-Forwarded-For whose last entry is
	// used); empty uses the TCP peer address.
	ClientIPHeader string
	// Bounces records the events the sending services' webhooks report;
	// Webhooks are the services configured, each served at
	// POST /webhooks/NAME. Without Bounces no webhook is served.
	Bounces  bounce.Recorder
	Webhooks []webhook.Provider
}

// Server holds the handlers' dependencies.
type Server struct {
	cfg      Config
	db       *sqlite.DB
	stories  *digest.Store
	subs     *subscribers.Store
	signer   *subscribers.Signer
	renderer *digest.Renderer
	pages    map[string]*template.Template
	mails    struct{ confirm, active, links subscriberMail }
	out      *outbox
	unsubs   *unsubscribeQueue // one-click unsubscribes, committed in groups
	// expireStop and expireDone stop the hourly expiry of unconfirmed
	// sign-ups; closing makes Close idempotent.
	expireStop, expireDone chan struct{}
	closing                sync.Once
	archive                pageCache // rendered archive, edition and story pages
	admin                  *Admin
}

// SetAdmin mounts the admin console and the JSON API (see NewAdmin); call
// it before Handler. Its login limits name clients as sign-up does.
func (s *Server) SetAdmin(a *Admin) {
	s.admin = a
	if a != nil {
		a.client = s.clientNetwork
	}
}

var pageFuncs = template.FuncMap{
	"join":        strings.Join,
	"upper":       strings.ToUpper,
	"zoneOptions": zoneOptions,
}

// New parses the page templates and returns a server.
func New(cfg Config, db *sqlite.DB, stories *digest.Store, subs *subscribers.Store, signer *subscribers.Signer, r *digest.Renderer) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, db: db, stories: stories, subs: subs, signer: signer, renderer: r, pages: map[string]*template.Template{}}
	s.unsubs = newUnsubscribeQueue(subs.UnsubscribeMany)
	for _, name := range []string{"unsubscribe", "message", "editions", "story", "preferences", "report", "subscribe", "confirm"} {
		t, err := template.New("layout.html").Funcs(pageFuncs).ParseFS(templates.FS, "web/layout.html", "web/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	var err error
	if s.mails.confirm, err = parseSubscriberMail("subscribe_confirm", "Confirm your Both Sides subscription"); err != nil {
		return nil, err
	}
	if s.mails.active, err = parseSubscriberMail("subscribe_active", "You are already subscribed to Both Sides"); err != nil {
		return nil, err
	}
	if s.mails.links, err = parseSubscriberMail("links_new", "Your new Both Sides links"); err != nil {
		return nil, err
	}
	if cfg.Mailer != nil {
		s.startOutbox()
	}
	return s, nil
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/editions", http.StatusFound)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /unsubscribe/{token}", s.unsubscribePage)
	mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
	mux.HandleFunc("GET /preferences/{token}", s.preferencesPage)
	s.subscriberRoutes(mux)
	mux.HandleFunc("GET /editions", s.editionsPage)
	mux.HandleFunc("GET /editions/{date}", s.editionPage)
	mux.HandleFunc("GET /stories/{id}", s.storyPage)
	mux.HandleFunc("GET /stories/{id}/versions/{n}", s.storyVersionPage)
	mux.HandleFunc("GET /stories/{id}/report", s.reportPage)
	// The same cross-origin refusal as sign-up's forms (see subscriberRoutes).
	mux.Handle("POST /stories/{id}/report", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.report)))
	s.webhookRoutes(mux)
	if s.admin != nil {
		s.admin.Routes(mux)
	}
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.metricsGuard(s.cfg.Metrics))
	}
	return s.securityHeaders(mux)
}

// hstsHeader tells browsers to use https only for the site, for a year;
// not includeSubDomains, which would reach other hosts of the domain.
const hstsHeader = "max-age=31536000"

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	// Built once, keyed canonically, each value a full slice: a request
	// puts them in without allocating, and a handler's Set replaces and an
	// Add copies, so none is changed in place.
	fields := map[string][]string{
		"Content-Security-Policy": {"default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
		"X-Content-Type-Options":  {"nosniff"},
		"Referrer-Policy":         {"no-referrer"},
		"X-Frame-Options":         {"DENY"},
	}
	if strings.HasPrefix(strings.ToLower(s.cfg.BaseURL), "https://") {
		fields["Strict-Transport-Security"] = []string{hstsHeader}
	}
	for k, v := range fields {
		fields[k] = v[:len(v):len(v)]
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range fields {
			h[k] = v
		}
		next.ServeHTTP(w, r)
	})
}

// render writes a page with status code.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, page string, data any) {
	t, ok := s.pages[page]
	if !ok {
		s.error(w, r, fmt.Errorf("no page %q", page))
		return
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		s.error(w, r, fmt.Errorf("render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprint(w, b.String())
}

type message struct {
	Heading, Text string
	Error         bool
}

func (s *Server) now() time.Time { return s.db.Now() }
