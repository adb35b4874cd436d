package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"bothsides/sqlite"
)

// Session cookie names.
const (
	sessionCookie = "bothsides_admin"
	loginCookie   = "bothsides_login" // double-submit CSRF token of the login form
)

// session is a logged-in admin.
type session struct {
	hash    string
	CSRF    string
	Expires time.Time
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// newSession stores a session and returns its cookie value.
func (a *Admin) newSession(ctx context.Context) (string, *session, error) {
	tok := randomToken()
	now := a.db.Now()
	s := &session{hash: tokenHash(tok), CSRF: randomToken(), Expires: now.Add(a.cfg.SessionTTL)}
	err := a.db.Tx(ctx, func(tx *sql.Tx) error {
		// Expired sessions are swept at each login.
		if _, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE expires_at <= ?`, sqlite.Time(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_sessions (token_hash, csrf, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			s.hash, s.CSRF, sqlite.Time(now), sqlite.Time(s.Expires))
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	return tok, s, nil
}

// session returns the request's live session, or nil.
func (a *Admin) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	s := session{hash: tokenHash(c.Value)}
	var exp string
	err = a.db.R.QueryRowContext(r.Context(), `SELECT csrf, expires_at FROM admin_sessions WHERE token_hash = ?`, s.hash).Scan(&s.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if s.Expires, err = sqlite.ParseTime(exp); err != nil {
		return nil, err
	}
	if !a.db.Now().Before(s.Expires) {
		return nil, nil
	}
	return &s, nil
}

func (a *Admin) secure(r *http.Request) bool { return a.cfg.Secure || r.TLS != nil }

func (a *Admin) setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure(r), SameSite: http.SameSiteStrictMode})
}

type ctxKey struct{}

func sessionFrom(r *http.Request) *session {
	s, _ := r.Context().Value(ctxKey{}).(*session)
	return s
}

// page wraps an admin handler: no password, no console; no session, the
// login page (GET) or 403 (anything else); a POST must carry the session's
// CSRF token.
func (a *Admin) page(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		adminHeaders(w)
		if !a.Enabled() {
			a.disabled(w, r)
			return
		}
		s, err := a.session(r)
		if err != nil {
			a.error(w, r, err)
			return
		}
		if s == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next := r.URL.RequestURI()
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			}
			a.render(w, r, http.StatusForbidden, "message", message{Heading: "Please log in", Text: "Your session has expired or you are not logged in.", Error: true})
			return
		}
		if r.Method == http.MethodPost {
			// Defence in depth beside the token: browsers say where a
			// request comes from.
			if err := a.origin.Check(r); err != nil {
				a.render(w, r, http.StatusForbidden, "message", message{Heading: "Cross-origin request refused", Text: "This form was posted from another site.", Error: true})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload+1<<20)
			if err := r.ParseMultipartForm(maxUpload); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				a.render(w, r, http.StatusBadRequest, "message", message{Heading: "Bad request", Text: "The form could not be read: " + err.Error(), Error: true})
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				a.render(w, r, http.StatusForbidden, "message", message{Heading: "Form expired", Text: "This form is out of date or did not come from this console. Go back, reload the page and try again.", Error: true})
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	}
}

// maxUpload bounds a story import upload.
const maxUpload = 32 << 20

func adminHeaders(w http.ResponseWriter) {
	h := w.Header()
	// The console's only script is its own progress poller.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
}

func (a *Admin) disabled(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusServiceUnavailable, "message", message{Heading: "The admin console is disabled",
		Text: "No admin password is configured. Start the server with --admin-password or the environment variable BOTHSIDES_ADMIN_PASSWORD to enable it.", Error: true})
}

func (a *Admin) loginPage(w http.ResponseWriter, r *http.Request) {
	adminHeaders(w)
	if !a.Enabled() {
		a.disabled(w, r)
		return
	}
	a.showLogin(w, r, http.StatusOK, "")
}

func (a *Admin) showLogin(w http.ResponseWriter, r *http.Request, code int, problem string) {
	tok := randomToken()
	a.setCookie(w, r, loginCookie, tok, "/admin/login", 3600)
	a.render(w, r, code, "login", map[string]any{"CSRF": tok, "Next": safeNext(r.FormValue("next")), "Problem": problem})
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/admin") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/admin"
	}
	return next
}

func (a *Admin) login(w http.ResponseWriter, r *http.Request) {
	adminHeaders(w)
	if !a.Enabled() {
		a.disabled(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := a.origin.Check(r); err != nil {
		a.showLogin(w, r, http.StatusForbidden, "Cross-origin login refused.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 || c.Value == "" {
		a.showLogin(w, r, http.StatusForbidden, "The login form expired. Please try again.")
		return
	}
	// One password check at a time, and a failed one is answered after
	// the delay with the lock held: a guesser gets at most one try per
	// delay, and parallel requests cannot multiply PBKDF2's cost.
	a.loginMu.Lock()
	ok := subtle.ConstantTimeCompare(a.derive(r.PostFormValue("password")), a.hash) == 1
	if !ok {
		a.cfg.Sleep(r.Context(), a.cfg.FailDelay)
	}
	a.loginMu.Unlock()
	if !ok {
		a.log.Warn("admin login failed", "remote", r.RemoteAddr)
		a.showLogin(w, r, http.StatusUnauthorized, "Wrong password.")
		return
	}
	tok, _, err := a.newSession(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.setCookie(w, r, sessionCookie, tok, "/admin", int(a.cfg.SessionTTL/time.Second))
	a.setCookie(w, r, loginCookie, "", "/admin/login", -1)
	a.log.Info("admin logged in", "remote", r.RemoteAddr)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (a *Admin) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	if _, err := a.db.W.ExecContext(r.Context(), `DELETE FROM admin_sessions WHERE token_hash = ?`, s.hash); err != nil {
		a.error(w, r, fmt.Errorf("delete session: %w", err))
		return
	}
	a.setCookie(w, r, sessionCookie, "", "/admin", -1)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}
