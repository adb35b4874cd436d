package web

import (
	"context"
	"crypto/hmac"
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
	"strconv"
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
	Created time.Time
	Expires time.Time
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is what the database keeps of a session cookie: an HMAC under
// a key derived from the password. A changed password changes every hash,
// so each session from before matches nothing; its row goes with the
// sweep of expired sessions at the next login.
func (a *Admin) tokenHash(tok string) string {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write([]byte(tok))
	return hex.EncodeToString(m.Sum(nil))
}

// newSession stores a session and returns its cookie value.
func (a *Admin) newSession(ctx context.Context) (string, *session, error) {
	tok := randomToken()
	now := a.db.Now()
	s := &session{hash: a.tokenHash(tok), CSRF: randomToken(), Created: now, Expires: a.expiry(now, now)}
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

// expiry is when a session created at created and last used at now ends:
// IdleTimeout after now, at most SessionTTL after created.
func (a *Admin) expiry(created, now time.Time) time.Time {
	idle, end := now.Add(a.cfg.IdleTimeout), created.Add(a.cfg.SessionTTL)
	if idle.Before(end) {
		return idle
	}
	return end
}

// session returns the request's live session, or nil. Unless touch is
// false, the request counts as activity: the session's idle expiry moves
// on, written at most once per thirtieth of the idle timeout (a minute by
// default) to spare the writer.
func (a *Admin) session(r *http.Request, touch bool) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	s := session{hash: a.tokenHash(c.Value)}
	var created, exp string
	err = a.db.R.QueryRowContext(r.Context(), `SELECT csrf, created_at, expires_at FROM admin_sessions WHERE token_hash = ?`, s.hash).Scan(&s.CSRF, &created, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if s.Created, err = sqlite.ParseTime(created); err != nil {
		return nil, err
	}
	if s.Expires, err = sqlite.ParseTime(exp); err != nil {
		return nil, err
	}
	now := a.db.Now()
	if !now.Before(s.Expires) {
		return nil, nil
	}
	if next := a.expiry(s.Created, now); touch && next.Sub(s.Expires) >= a.cfg.IdleTimeout/30 {
		if _, err := a.db.W.ExecContext(r.Context(), `UPDATE admin_sessions SET expires_at = ? WHERE token_hash = ?`,
			sqlite.Time(next), s.hash); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
		s.Expires = next
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
		// The progress poller is not the admin at work: it does not keep
		// a session from idling out.
		s, err := a.session(r, r.Pattern != progressRoute)
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
	client := a.client(r)
	t, wait, err := a.guard.admit(client, a.db.Now())
	if err != nil {
		a.log.Debug("admin login refused", "client", client, "reason", err)
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		a.showLogin(w, r, http.StatusTooManyRequests, "Too many login attempts. Please wait a little and try again.")
		return
	}
	defer t.done()
	if err := t.enter(r.Context()); err != nil {
		return // the client left before its password was checked
	}
	ok := subtle.ConstantTimeCompare(a.derive(r.PostFormValue("password")), a.hash) == 1
	t.leave()
	if !ok {
		// The delay holds the network's slot, not a lock, and the client
		// cannot cut it short by hanging up.
		d := t.fail(a.db.Now())
		a.log.Warn("admin login failed", "remote", r.RemoteAddr, "client", client, "delay", d.String())
		a.cfg.Sleep(context.WithoutCancel(r.Context()), d)
		a.showLogin(w, r, http.StatusUnauthorized, "Wrong password.")
		return
	}
	t.succeed()
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
