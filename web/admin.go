package web

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"bothsides/bounce"
	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/templates"
)

// AdminConfig configures the admin console and the JSON API. Zero values
// take the defaults noted.
type AdminConfig struct {
	// Password enables the console at /admin; empty disables it. Only a
	// salted PBKDF2 hash of it is kept.
	Password string
	// APIToken enables the JSON API at /api/; empty disables it. Only its
	// SHA-256 is kept.
	APIToken string
	// SessionTTL is how long a login lasts at most; default 12h.
	SessionTTL time.Duration
	// IdleTimeout ends a session this long after its last request (the
	// progress poller's requests do not count); default 30m.
	IdleTimeout time.Duration
	// FailDelay is how long the first failed login of a client network
	// waits before its answer, even if the client hangs up; each further
	// failure of the network within 15 minutes doubles it, and so do every
	// 10 failures over all networks, up to MaxFailDelay. Until the delay
	// has passed the network's attempts are answered 429. Default 1s.
	FailDelay time.Duration
	// MaxFailDelay caps the doubled delay; default 30s (under the
	// server's write timeout).
	MaxFailDelay time.Duration
	// LoginQueue is how many login attempts may wait for or be in the
	// password check (one at a time); past it they are answered 429 at
	// once. Default 4.
	LoginQueue int
	// PasswordIterations of PBKDF2-SHA256; default 600,000 (OWASP 2023).
	PasswordIterations int
	// BaseURL is the public URL; links in previews and test mails use it.
	BaseURL string
	// Secure marks the session cookie Secure; it is also set for requests
	// that arrive over TLS.
	Secure bool
	// PollInterval is how often the progress script asks; default 1s.
	PollInterval time.Duration
	// Sleep waits; tests replace it. A failed login's delay is given a
	// context that the client cannot cancel.
	Sleep func(ctx context.Context, d time.Duration)
}

// MinPasswordLength is the shortest admin password NewAdmin accepts, in
// characters.
const MinPasswordLength = 12

// ErrPasswordTooShort is returned by NewAdmin for a password shorter than
// MinPasswordLength.
var ErrPasswordTooShort = errors.New("admin password too short")

// Scheduler is what the console needs of schedule.Scheduler.
type Scheduler interface {
	Launch(r schedule.Run) error
	Reload(ctx context.Context) error
	Running() map[string]schedule.Run
	Grace() time.Duration
}

// TestMailer sends one copy of an edition to one address, marked as a
// test; main implements it with the configured mailer.
type TestMailer interface {
	SendTest(ctx context.Context, e *digest.Edition, to string) error
}

// Admin is the admin console and the JSON API.
type Admin struct {
	cfg       AdminConfig
	log       *slog.Logger
	db        *sqlite.DB
	stories   *digest.Store
	subs      *subscribers.Store
	schedules *schedule.Store
	sched     Scheduler
	tests     TestMailer
	renderer  *digest.Renderer
	redrafter Redrafter

	salt, hash []byte // PBKDF2 of the password, salted per database
	sessionKey []byte // derived from hash: sessions are bound to the password
	apiHash    [32]byte
	guard      *loginGuard
	client     func(*http.Request) string // the client network, as sign-up names it
	origin     *http.CrossOriginProtection
	pages      map[string]*template.Template
	reputation *bounce.Guard // nil: no reputation section (SetReputation)
}

// NewAdmin parses the admin templates and hashes the secrets.
func NewAdmin(cfg AdminConfig, log *slog.Logger, db *sqlite.DB, stories *digest.Store, subs *subscribers.Store,
	schedules *schedule.Store, sched Scheduler, tests TestMailer, r *digest.Renderer) (*Admin, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.FailDelay <= 0 {
		cfg.FailDelay = time.Second
	}
	if cfg.MaxFailDelay <= 0 {
		cfg.MaxFailDelay = 30 * time.Second
	}
	if cfg.LoginQueue <= 0 {
		cfg.LoginQueue = 4
	}
	if cfg.PasswordIterations <= 0 {
		cfg.PasswordIterations = 600_000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	if log == nil {
		log = slog.Default()
	}
	a := &Admin{cfg: cfg, log: log, db: db, stories: stories, subs: subs, schedules: schedules,
		sched: sched, tests: tests, renderer: r, pages: map[string]*template.Template{},
		origin: http.NewCrossOriginProtection(), client: (&Server{}).clientNetwork,
		guard: newLoginGuard(cfg.FailDelay, cfg.MaxFailDelay, cfg.LoginQueue)}
	if cfg.Password != "" {
		if n := utf8.RuneCountInString(cfg.Password); n < MinPasswordLength {
			return nil, fmt.Errorf("%w: %d characters, want at least %d", ErrPasswordTooShort, n, MinPasswordLength)
		}
		// The salt is kept in the database so that the same password
		// derives the same key after a restart: sessions survive a restart
		// but not a change of password.
		ctx := context.Background()
		var err error
		if a.salt, err = db.Secret(ctx, "admin_password_salt"); err != nil {
			return nil, err
		}
		a.hash = a.derive(cfg.Password)
		m := hmac.New(sha256.New, a.hash)
		m.Write([]byte("bothsides admin sessions"))
		a.sessionKey = m.Sum(nil)
	}
	if cfg.APIToken != "" {
		a.apiHash = sha256.Sum256([]byte(cfg.APIToken))
	}
	a.cfg.Password, a.cfg.APIToken = "", "" // keep only the hashes
	for _, name := range adminPages {
		t, err := template.New("admin_layout.html").Funcs(adminFuncs).ParseFS(templates.FS, "web/admin_layout.html", "web/admin_part_reputation.html", "web/admin_"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse admin page %s: %w", name, err)
		}
		a.pages[name] = t
	}
	return a, nil
}

var adminPages = []string{"login", "message", "dashboard", "schedules", "schedule", "send", "preview", "edition", "subscribers", "subscriber", "stories", "story", "reports", "sources"}

func (a *Admin) derive(password string) []byte {
	k, err := pbkdf2.Key(sha256.New, password, a.salt, a.cfg.PasswordIterations, 32)
	if err != nil {
		panic(err) // only for a bad key length
	}
	return k
}

// Enabled reports whether the console has a password.
func (a *Admin) Enabled() bool { return a != nil && a.hash != nil }

// APIEnabled reports whether the API has a token.
func (a *Admin) APIEnabled() bool { return a != nil && a.apiHash != [32]byte{} }

// adminFuncs are the helpers of the admin templates.
var adminFuncs = template.FuncMap{
	"join": strings.Join,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format("Mon 2 Jan 2006 15:04 MST")
	},
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
}

// render writes an admin page; data maps get the session's CSRF token and
// the page name for the navigation.
func (a *Admin) render(w http.ResponseWriter, r *http.Request, code int, page string, data any) {
	t, ok := a.pages[page]
	if !ok {
		a.error(w, r, fmt.Errorf("no admin page %q", page))
		return
	}
	view := map[string]any{"Page": page, "Data": data, "LoggedIn": false}
	if s := sessionFrom(r); s != nil {
		view["CSRF"], view["LoggedIn"] = s.CSRF, true
	}
	var b strings.Builder
	if err := t.Execute(&b, view); err != nil {
		a.log.Error("render admin page", "page", page, "err", err)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, b.String())
}
