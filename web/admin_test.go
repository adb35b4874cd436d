package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/bounce"
	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/sample"
	"bothsides/schedule"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
)

const (
	testPassword = "correct horse battery staple"
	testToken    = "api-token-for-tests"
)

// adminFixture is the web server with the console and API over a database
// with the sample stories (dated 27 November 2026), two subscribers, a
// manual scheduler whose job sends through a real SMTP server.
type adminFixture struct {
	t      *testing.T
	db     *sqlite.DB
	clock  *testsupport.Clock
	smtp   *testsupport.SMTPServer
	sched  *schedule.Scheduler
	admin  *web.Admin
	server *httptest.Server
	client *http.Client

	mu     sync.Mutex
	sleeps []time.Duration
}

type adminOptions struct {
	password, token string
	secure          bool
	log             io.Writer // default: discarded
	baseURL         string    // default http://127.0.0.1
	// failDelay, queue and sleep set the login limits (default: web's,
	// with a sleep that records the delay and advances the clock).
	failDelay time.Duration
	queue     int
	sleep     func(ctx context.Context, d time.Duration)
	// reputation, when set, shows the reputation guard's counts (with
	// this configuration) on the dashboard and edition pages.
	reputation *bounce.GuardConfig
}

func newAdminFixture(t *testing.T, o adminOptions) *adminFixture {
	t.Helper()
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(ctx, stories); err != nil {
		t.Fatal(err)
	}
	subs := subscribers.NewStore(db)
	for _, addr := range []string{"ana@example.com", "ben@example.org"} {
		if _, err := subs.Add(ctx, addr, ""); err != nil {
			t.Fatal(err)
		}
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	signer := subscribers.NewSigner(key)
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f := &adminFixture{t: t, db: db, clock: clock, smtp: testsupport.StartSMTP(t)}
	if o.log == nil {
		o.log = io.Discard
	}
	log := slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	schedules := schedule.NewStore(db)
	f.sched = schedule.New(schedule.Config{Logger: log, Now: clock.Now, Manual: true}, schedules,
		func(ctx context.Context, run schedule.Run) error {
			e, err := store.Open(ctx, run.EditionParams(clock.Now()))
			if err != nil {
				return err
			}
			m, err := mailer.NewSMTP(mailer.Config{URL: f.smtp.URL() + "?tls=none"})
			if err != nil {
				return err
			}
			defer m.Close()
			_, err = delivery.NewSender(delivery.Config{From: "Both Sides <digest@example.com>", BaseURL: "http://127.0.0.1", Logger: log},
				db, r, signer, func() delivery.Conn { return m.Open() }).Send(ctx, e)
			return err
		})
	t.Cleanup(func() { f.sched.Stop(context.Background()) })
	if o.baseURL == "" {
		o.baseURL = "http://127.0.0.1"
	}
	srv, err := web.New(web.Config{BaseURL: o.baseURL, Logger: log, ClientIPHeader: "X-Real-IP"}, db, store, subs, signer, r)
	if err != nil {
		t.Fatal(err)
	}
	if o.sleep == nil {
		// Sleeping moves the test clock on: the backoff has passed when the
		// answer comes, as with a real clock.
		o.sleep = func(ctx context.Context, d time.Duration) {
			f.mu.Lock()
			f.sleeps = append(f.sleeps, d)
			f.mu.Unlock()
			clock.Advance(d)
		}
	}
	admin, err := web.NewAdmin(web.AdminConfig{Password: o.password, APIToken: o.token, BaseURL: "http://127.0.0.1",
		Secure: o.secure, PasswordIterations: 1000, PollInterval: 50 * time.Millisecond,
		FailDelay: o.failDelay, LoginQueue: o.queue, Sleep: o.sleep}, log, db, store, subs, schedules, f.sched, testMail{f}, r)
	if err != nil {
		t.Fatal(err)
	}
	if o.reputation != nil {
		g, err := bounce.NewGuard(*o.reputation, db)
		if err != nil {
			t.Fatal(err)
		}
		admin.SetReputation(g)
	}
	srv.SetAdmin(admin)
	f.admin = admin
	f.server = httptest.NewServer(srv.Handler())
	t.Cleanup(f.server.Close)
	f.client = f.newClient()
	return f
}

// testMail is the console's test mailer, over the fixture's SMTP server.
type testMail struct{ f *adminFixture }

func (m testMail) SendTest(ctx context.Context, e *digest.Edition, to string) error {
	s, err := mailer.NewSMTP(mailer.Config{URL: m.f.smtp.URL() + "?tls=none"})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Send(ctx, &mailer.Message{From: "Both Sides <digest@example.com>", To: to, Subject: "[Test] " + e.Date,
		HTML: []byte("<p>test</p>"), Text: []byte("test")})
}

// newClient returns a client with its own cookies that does not follow
// redirects.
func (f *adminFixture) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type adminResponse struct {
	code int
	body string
	hdr  http.Header
}

func (f *adminFixture) do(c *http.Client, method, path string, form url.Values, hdr ...string) adminResponse {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.server.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return adminResponse{res.StatusCode, string(b), res.Header}
}

// api calls the JSON API with the test token and decodes the answer.
func (f *adminFixture) api(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs c in and returns the session's CSRF token.
func (f *adminFixture) login(c *http.Client, password string) adminResponse {
	f.t.Helper()
	page := f.do(c, "GET", "/admin/login", nil)
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		f.t.Fatalf("login page has no CSRF field: %d %s", page.code, page.body)
	}
	return f.do(c, "POST", "/admin/login", url.Values{"csrf": {m[1]}, "password": {password}, "next": {"/admin/schedules"}})
}

func (f *adminFixture) csrf(c *http.Client) string {
	f.t.Helper()
	page := f.do(c, "GET", "/admin/send", nil)
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		f.t.Fatalf("no CSRF token on /admin/send: %d", page.code)
	}
	return m[1]
}

// adminRoutes is every console route with a request that would change
// something or show something.
var adminRoutes = []struct{ method, path string }{
	{"GET", "/admin"}, {"GET", "/admin/schedules"}, {"GET", "/admin/schedules/default"},
	{"GET", "/admin/send"}, {"GET", "/admin/preview?schedule=default&date=2026-11-27"},
	{"GET", "/admin/preview/html?schedule=default&date=2026-11-27"},
	{"GET", "/admin/editions/default/2026-11-27"}, {"GET", "/admin/editions/default/2026-11-27/progress"},
	{"GET", "/admin/subscribers"}, {"GET", "/admin/stories"}, {"GET", "/admin/anything"},
	{"POST", "/admin/logout"}, {"POST", "/admin/schedules"}, {"POST", "/admin/schedules/default"},
	{"POST", "/admin/schedules/default/pause"}, {"POST", "/admin/schedules/default/resume"},
	{"POST", "/admin/schedules/default/delete"}, {"POST", "/admin/send"}, {"POST", "/admin/send/test"},
	{"POST", "/admin/editions/default/2026-11-27/pause"}, {"POST", "/admin/editions/default/2026-11-27/resume"},
	{"POST", "/admin/editions/default/2026-11-27/cancel"}, {"POST", "/admin/stories/import"},
	{"GET", "/admin/reports"}, {"POST", "/admin/reports/1/resolve"}, {"GET", "/admin/subscribers/1"},
}

var apiRoutes = []struct{ method, path, body string }{
	{"GET", "/api/schedules", ""}, {"POST", "/api/schedules", `{"name":"x","spec":"0 7 * * *"}`},
	{"GET", "/api/schedules/default", ""}, {"PATCH", "/api/schedules/default", `{"stories":3}`},
	{"DELETE", "/api/schedules/default", ""}, {"POST", "/api/schedules/default/pause", ""},
	{"POST", "/api/schedules/default/resume", ""}, {"GET", "/api/runs", ""},
	{"POST", "/api/send", `{"schedule":"default","date":"2026-11-27"}`},
	{"POST", "/api/send/test", `{"schedule":"default","to":"a@example.com"}`},
	{"GET", "/api/preview?schedule=default", ""}, {"GET", "/api/editions", ""},
	{"GET", "/api/editions/default/2026-11-27", ""}, {"POST", "/api/editions/default/2026-11-27/pause", ""},
	{"POST", "/api/editions/default/2026-11-27/resume", ""}, {"POST", "/api/editions/default/2026-11-27/cancel", ""},
	{"GET", "/api/subscribers", ""}, {"POST", "/api/subscribers/1/status", `{"status":"unsubscribed"}`}, {"GET", "/api/stories", ""}, {"POST", "/api/stories", `{"stories":[]}`},
	{"GET", "/api/reports", ""}, {"POST", "/api/reports/1/resolve", ""}, {"GET", "/api/bounces", ""},
	{"GET", "/api/nothing", ""},
}

func (f *adminFixture) seedDefault() {
	f.t.Helper()
	f.clock.Set(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if _, err := schedule.NewStore(f.db).Seed(context.Background(), "CRON_TZ=UTC 0 7 * * *"); err != nil {
		f.t.Fatal(err)
	}
	f.clock.Set(testsupport.Epoch.Add(time.Hour))
}

func TestAdmin_Anonymous(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword, token: testToken})
	f.seedDefault()
	for _, rt := range adminRoutes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			res := f.do(f.newClient(), rt.method, rt.path, url.Values{"name": {"x"}, "spec": {"0 7 * * *"}, "schedule": {"default"}})
			if rt.method == "GET" {
				if res.code != http.StatusSeeOther || !strings.HasPrefix(res.hdr.Get("Location"), "/admin/login") {
					t.Fatalf("status %d to %q, want 303 to the login page", res.code, res.hdr.Get("Location"))
				}
				return
			}
			if res.code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.code)
			}
		})
	}
	for _, rt := range apiRoutes {
		for _, auth := range []string{"", "Bearer wrong", "Basic " + testToken, testToken} {
			t.Run("API "+rt.method+" "+rt.path+" "+auth, func(t *testing.T) {
				req, _ := http.NewRequest(rt.method, f.server.URL+rt.path, strings.NewReader(rt.body))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
					t.Fatalf("status %d, want 401 with WWW-Authenticate", res.StatusCode)
				}
			})
		}
	}
	// Nothing changed.
	s, err := schedule.NewStore(f.db).Get(context.Background(), "default")
	if err != nil || !s.Enabled || s.Stories != 5 {
		t.Fatalf("default schedule=%+v, %v: changed by an anonymous request", s, err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Fatalf("%d mails sent by anonymous requests", n)
	}
}

func TestAdmin_Disabled(t *testing.T) {
	f := newAdminFixture(t, adminOptions{})
	for _, rt := range append(adminRoutes, struct{ method, path string }{"GET", "/admin/login"}, struct{ method, path string }{"POST", "/admin/login"}) {
		res := f.do(f.newClient(), rt.method, rt.path, url.Values{"password": {""}})
		if res.code != http.StatusServiceUnavailable || !strings.Contains(res.body, "BOTHSIDES_ADMIN_PASSWORD") {
			t.Fatalf("%s %s: status %d, want 503 naming the setting", rt.method, rt.path, res.code)
		}
	}
	res := f.do(f.newClient(), "GET", "/api/schedules", nil, "Authorization", "Bearer ")
	if res.code != http.StatusServiceUnavailable || !strings.Contains(res.body, "BOTHSIDES_API_TOKEN") {
		t.Fatalf("API: status %d %s, want 503 naming the setting", res.code, res.body)
	}
}

func TestAdmin_Login(t *testing.T) {
	t.Run("WrongPasswordDelayed", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		res := f.login(f.client, "guess")
		if res.code != http.StatusUnauthorized || !strings.Contains(res.body, "Wrong password") {
			t.Fatalf("status %d, want 401 Wrong password", res.code)
		}
		if len(f.sleeps) != 1 || f.sleeps[0] != time.Second {
			t.Fatalf("delays=%v, want one of 1s", f.sleeps)
		}
		if got := f.do(f.client, "GET", "/admin", nil); got.code != http.StatusSeeOther {
			t.Fatalf("after a failed login /admin=%d, want 303", got.code)
		}
	})
	t.Run("OK", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		res := f.login(f.client, testPassword)
		if res.code != http.StatusSeeOther || res.hdr.Get("Location") != "/admin/schedules" {
			t.Fatalf("status %d to %q, want 303 to /admin/schedules", res.code, res.hdr.Get("Location"))
		}
		cookie := res.hdr.Get("Set-Cookie")
		for _, want := range []string{"bothsides_admin=", "HttpOnly", "SameSite=Strict", "Path=/admin"} {
			if !strings.Contains(cookie, want) {
				t.Fatalf("Set-Cookie %q lacks %s", cookie, want)
			}
		}
		if strings.Contains(cookie, "Secure") {
			t.Fatalf("Set-Cookie %q is Secure over plain http", cookie)
		}
		if len(f.sleeps) != 0 {
			t.Fatalf("a good login waited %v", f.sleeps)
		}
		if got := f.do(f.client, "GET", "/admin", nil); got.code != http.StatusOK || !strings.Contains(got.body, "Dashboard") {
			t.Fatalf("/admin=%d after login", got.code)
		}
	})
	t.Run("SecureBehindHTTPS", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword, secure: true})
		page := f.do(f.client, "GET", "/admin/login", nil)
		tok := csrfField.FindStringSubmatch(page.body)[1]
		// The cookie jar keeps no Secure cookie for http://, so post by hand.
		req, _ := http.NewRequest("POST", f.server.URL+"/admin/login", strings.NewReader(url.Values{"csrf": {tok}, "password": {testPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "bothsides_login", Value: tok})
		res, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if c := res.Header.Get("Set-Cookie"); res.StatusCode != http.StatusSeeOther || !strings.Contains(c, "Secure") {
			t.Fatalf("status %d, Set-Cookie %q: want a Secure cookie", res.StatusCode, c)
		}
	})
	t.Run("ErrNoLoginToken", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		res := f.do(f.client, "POST", "/admin/login", url.Values{"password": {testPassword}})
		if res.code != http.StatusForbidden {
			t.Fatalf("status %d, want 403 for a login without its form token", res.code)
		}
	})
	t.Run("ErrCrossOrigin", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		f.login(f.client, testPassword)
		tok := f.csrf(f.client)
		res := f.do(f.client, "POST", "/admin/schedules", url.Values{"csrf": {tok}, "name": {"evil"}, "spec": {"0 7 * * *"}},
			"Sec-Fetch-Site", "cross-site")
		if res.code != http.StatusForbidden {
			t.Fatalf("status %d, want 403 for a cross-site POST", res.code)
		}
	})
	t.Run("Logout", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		f.login(f.client, testPassword)
		// Keep the session cookie to replay it after logout.
		u, _ := url.Parse(f.server.URL + "/admin")
		old := f.client.Jar.Cookies(u)
		res := f.do(f.client, "POST", "/admin/logout", url.Values{"csrf": {f.csrf(f.client)}})
		if res.code != http.StatusSeeOther {
			t.Fatalf("logout=%d", res.code)
		}
		replay := f.newClient()
		replay.Jar.SetCookies(u, old)
		if got := f.do(replay, "GET", "/admin", nil); got.code != http.StatusSeeOther {
			t.Fatalf("old session after logout: %d, want 303 to login", got.code)
		}
	})
}

func TestAdmin_CSRF(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.login(f.client, testPassword)
	form := url.Values{"name": {"weekday"}, "spec": {"CRON_TZ=Europe/London 0 7 * * 1-5"}, "enabled": {"on"}}
	for _, tok := range []string{"", "forged"} {
		form.Set("csrf", tok)
		if res := f.do(f.client, "POST", "/admin/schedules", form); res.code != http.StatusForbidden {
			t.Fatalf("csrf %q: status %d, want 403", tok, res.code)
		}
	}
	if _, err := schedule.NewStore(f.db).Get(context.Background(), "weekday"); err == nil {
		t.Fatal("schedule created without a valid CSRF token")
	}
	// Another session's token is not this one's.
	other := f.newClient()
	f.login(other, testPassword)
	form.Set("csrf", f.csrf(other))
	if res := f.do(f.client, "POST", "/admin/schedules", form); res.code != http.StatusForbidden {
		t.Fatalf("another session's token: status %d, want 403", res.code)
	}
	form.Set("csrf", f.csrf(f.client))
	if res := f.do(f.client, "POST", "/admin/schedules", form); res.code != http.StatusSeeOther {
		t.Fatalf("valid token: status %d, want 303", res.code)
	}
}

func TestAdmin_SessionExpires(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.login(f.client, testPassword)
	// Kept busy, a session still ends 12 hours after the login.
	for range 12*3 - 1 {
		f.clock.Advance(20 * time.Minute)
		if res := f.do(f.client, "GET", "/admin", nil); res.code != http.StatusOK {
			t.Fatalf("at %s: %d, want 200", f.clock.Now(), res.code)
		}
	}
	f.clock.Advance(20*time.Minute - time.Second)
	if res := f.do(f.client, "GET", "/admin", nil); res.code != http.StatusOK {
		t.Fatalf("before expiry: %d, want 200", res.code)
	}
	tok := f.csrf(f.client)
	f.clock.Advance(time.Second)
	if res := f.do(f.client, "GET", "/admin", nil); res.code != http.StatusSeeOther {
		t.Fatalf("after 12h: %d, want 303 to login", res.code)
	}
	if res := f.do(f.client, "POST", "/admin/schedules", url.Values{"csrf": {tok}, "name": {"late"}, "spec": {"0 7 * * *"}}); res.code != http.StatusForbidden {
		t.Fatalf("POST after expiry: %d, want 403", res.code)
	}
}

func TestAdmin_Schedules(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.login(f.client, testPassword)
	tok := f.csrf(f.client)
	t.Run("ErrSpec", func(t *testing.T) {
		res := f.do(f.client, "POST", "/admin/schedules", url.Values{"csrf": {tok}, "name": {"bad"}, "spec": {"CRON_TZ=Atlantis/Nowhere 0 7 * * *"}})
		if res.code != http.StatusBadRequest || !strings.Contains(res.body, "unknown time zone &#34;Atlantis/Nowhere&#34;") {
			t.Fatalf("status %d, want 400 with the reason; body:\n%s", res.code, res.body)
		}
		if !strings.Contains(res.body, `value="bad"`) {
			t.Fatal("the form lost what was typed")
		}
		res = f.do(f.client, "POST", "/admin/schedules", url.Values{"csrf": {tok}, "name": {"bad"}, "spec": {"0 7 * *"}})
		if res.code != http.StatusBadRequest || !strings.Contains(res.body, "expected exactly 5 fields") {
			t.Fatalf("status %d, want 400 with the parser's reason", res.code)
		}
		res = f.do(f.client, "POST", "/admin/schedules", url.Values{"csrf": {tok}, "name": {"bad"}, "spec": {"0 7 * * *"}, "stories": {"five"}})
		if res.code != http.StatusBadRequest || !strings.Contains(res.body, "stories &#34;five&#34;: want a whole number") {
			t.Fatalf("status %d, want 400 naming the field", res.code)
		}
	})
	t.Run("CreateShowsNextRuns", func(t *testing.T) {
		res := f.do(f.client, "POST", "/admin/schedules", url.Values{"csrf": {tok}, "name": {"weekday"},
			"spec": {"CRON_TZ=America/New_York 30 6 * * 1-5"}, "stories": {"4"}, "window_hours": {"24"}, "enabled": {"on"}})
		if res.code != http.StatusSeeOther || res.hdr.Get("Location") != "/admin/schedules/weekday?ok=created" {
			t.Fatalf("status %d to %q", res.code, res.hdr.Get("Location"))
		}
		page := f.do(f.client, "GET", "/admin/schedules/weekday", nil)
		// Friday 27 November 2026 07:00 UTC is 02:00 in New York: the next
		// weekday runs are Friday, Monday, Tuesday at 06:30 EST.
		for _, want := range []string{"Fri 27 Nov 2026 06:30 EST", "Mon 30 Nov 2026 06:30 EST", "Tue 1 Dec 2026 06:30 EST", "America/New_York"} {
			if !strings.Contains(page.body, want) {
				t.Fatalf("schedule page lacks %q", want)
			}
		}
	})
	t.Run("EditPauseDelete", func(t *testing.T) {
		res := f.do(f.client, "POST", "/admin/schedules/weekday", url.Values{"csrf": {tok}, "spec": {"CRON_TZ=America/New_York 0 8 * * 1-5"},
			"stories": {"6"}, "window_hours": {"12"}, "subject": {"Morning"}, "enabled": {"on"}})
		if res.code != http.StatusSeeOther {
			t.Fatalf("edit=%d: %s", res.code, res.body)
		}
		s, _ := schedule.NewStore(f.db).Get(context.Background(), "weekday")
		if s.Spec != "CRON_TZ=America/New_York 0 8 * * 1-5" || s.Stories != 6 || s.WindowHours != 12 || s.Subject != "Morning" {
			t.Fatalf("after edit: %+v", s)
		}
		f.do(f.client, "POST", "/admin/schedules/weekday/pause", url.Values{"csrf": {tok}})
		if s, _ := schedule.NewStore(f.db).Get(context.Background(), "weekday"); s.Enabled {
			t.Fatal("pause did not pause")
		}
		f.do(f.client, "POST", "/admin/schedules/weekday/delete", url.Values{"csrf": {tok}})
		if _, err := schedule.NewStore(f.db).Get(context.Background(), "weekday"); err == nil {
			t.Fatal("delete did not delete")
		}
	})
}

func progress(t *testing.T, f *adminFixture, c *http.Client, path string) map[string]any {
	t.Helper()
	res := f.do(c, "GET", path, nil)
	var p map[string]any
	if err := json.Unmarshal([]byte(res.body), &p); err != nil {
		t.Fatalf("progress %d %q: %v", res.code, res.body, err)
	}
	return p
}

func TestAdmin_SendNowAndControl(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.seedDefault()
	f.login(f.client, testPassword)
	tok := f.csrf(f.client)
	res := f.do(f.client, "POST", "/admin/send", url.Values{"csrf": {tok}, "schedule": {"default"}, "date": {"2026-11-27"}})
	if res.code != http.StatusSeeOther || res.hdr.Get("Location") != "/admin/editions/default/2026-11-27?ok=started" {
		t.Fatalf("send now: %d to %q: %s", res.code, res.hdr.Get("Location"), res.body)
	}
	f.sched.Wait()
	p := progress(t, f, f.client, "/admin/editions/default/2026-11-27/progress")
	if p["status"] != "sent" || p["percent"] != float64(100) || p["sent"] != float64(2) {
		t.Fatalf("progress=%v, want sent 100%% of 2", p)
	}
	if n := len(f.smtp.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
	page := f.do(f.client, "GET", "/admin/editions/default/2026-11-27", nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, `data-field="percent">100<`) {
		t.Fatalf("edition page %d lacks 100%%", page.code)
	}
	// Sending again is refused, and mails nobody.
	res = f.do(f.client, "POST", "/admin/send", url.Values{"csrf": {tok}, "schedule": {"default"}, "date": {"2026-11-27"}})
	if res.code != http.StatusConflict || !strings.Contains(res.body, "sent already") {
		t.Fatalf("second send: %d", res.code)
	}
	// A sent edition can be neither paused nor cancelled.
	for _, action := range []string{"pause", "cancel"} {
		if res := f.do(f.client, "POST", "/admin/editions/default/2026-11-27/"+action, url.Values{"csrf": {tok}}); res.code != http.StatusConflict {
			t.Fatalf("%s a sent edition: %d, want 409", action, res.code)
		}
	}
	dash := f.do(f.client, "GET", "/admin", nil)
	for _, want := range []string{"<svg", `role="img"`, "2026-11-27 default: 2 delivered", "Next scheduled sends", "Sat 28 Nov 2026 07:00 UTC"} {
		if !strings.Contains(dash.body, want) {
			t.Fatalf("dashboard lacks %q", want)
		}
	}
	t.Run("PauseResume", func(t *testing.T) {
		// An edition paused before its send: resuming sends it.
		ctx := context.Background()
		sch, err := schedule.NewStore(f.db).Add(ctx, schedule.Schedule{Name: "second", Spec: "0 7 * * *", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		e, err := digest.NewStore(f.db).Open(ctx, sch.EditionParams("2026-11-27", testsupport.Epoch))
		if err != nil {
			t.Fatal(err)
		}
		// It started (its audience frozen) and was paused before any mail.
		if _, err := delivery.NewSender(delivery.Config{From: "d@example.com", BaseURL: "http://127.0.0.1"}, f.db, nil, nil, nil).Start(ctx, e); err != nil {
			t.Fatal(err)
		}
		f.db.W.Exec(`UPDATE editions SET status = 'paused' WHERE id = ?`, e.ID)
		if res := f.do(f.client, "POST", "/admin/send", url.Values{"csrf": {tok}, "schedule": {"second"}, "date": {"2026-11-27"}}); res.code != http.StatusConflict {
			t.Fatalf("send a paused edition: %d, want 409", res.code)
		}
		if res := f.do(f.client, "POST", "/admin/editions/second/2026-11-27/resume", url.Values{"csrf": {tok}}); res.code != http.StatusSeeOther {
			t.Fatalf("resume: %d %s", res.code, res.body)
		}
		f.sched.Wait()
		if p := progress(t, f, f.client, "/admin/editions/second/2026-11-27/progress"); p["status"] != "sent" || p["sent"] != float64(2) {
			t.Fatalf("after resume: %v", p)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		ctx := context.Background()
		sch, err := schedule.NewStore(f.db).Add(ctx, schedule.Schedule{Name: "third", Spec: "0 7 * * *", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		e, err := digest.NewStore(f.db).Open(ctx, sch.EditionParams("2026-11-27", testsupport.Epoch))
		if err != nil {
			t.Fatal(err)
		}
		if res := f.do(f.client, "POST", "/admin/editions/third/2026-11-27/cancel", url.Values{"csrf": {tok}}); res.code != http.StatusSeeOther {
			t.Fatalf("cancel: %d", res.code)
		}
		got, _ := digest.NewStore(f.db).EditionByID(ctx, e.ID)
		if got.Status != "cancelled" {
			t.Fatalf("status=%s, want cancelled", got.Status)
		}
	})
}

func TestAdmin_PreviewTestMailSubscribersStories(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.seedDefault()
	f.login(f.client, testPassword)
	tok := f.csrf(f.client)
	t.Run("Preview", func(t *testing.T) {
		page := f.do(f.client, "GET", "/admin/preview?schedule=default&date=2026-11-27", nil)
		if page.code != http.StatusOK || !strings.Contains(page.body, `<iframe class="mail"`) || !strings.Contains(page.body, "not yet assembled") {
			t.Fatalf("preview page %d", page.code)
		}
		html := f.do(f.client, "GET", "/admin/preview/html?schedule=default&date=2026-11-27", nil)
		if html.code != http.StatusOK || !strings.Contains(html.hdr.Get("Content-Security-Policy"), "frame-ancestors 'self'") {
			t.Fatalf("preview html %d, CSP %q", html.code, html.hdr.Get("Content-Security-Policy"))
		}
		if _, err := digest.NewStore(f.db).Edition(context.Background(), "2026-11-27", "default"); err == nil {
			t.Fatal("a preview stored the edition")
		}
		if res := f.do(f.client, "GET", "/admin/preview?schedule=default&date=27-11-2026", nil); res.code != http.StatusBadRequest {
			t.Fatalf("bad date: %d, want 400", res.code)
		}
	})
	t.Run("TestMail", func(t *testing.T) {
		res := f.do(f.client, "POST", "/admin/send/test", url.Values{"csrf": {tok}, "schedule": {"default"}, "date": {"2026-11-27"}, "to": {"editor@example.com"}})
		if res.code != http.StatusOK || !strings.Contains(res.body, "Test mail sent to editor@example.com") {
			t.Fatalf("test mail: %d", res.code)
		}
		if got := f.smtp.To("editor@example.com"); len(got) != 1 {
			t.Fatalf("%d test mails, want 1", len(got))
		}
	})
	t.Run("Subscribers", func(t *testing.T) {
		page := f.do(f.client, "GET", "/admin/subscribers?q=ANA&status=active", nil)
		if !strings.Contains(page.body, "ana@example.com") || strings.Contains(page.body, "ben@example.org") {
			t.Fatalf("search for ANA: %s", page.body)
		}
		ana, err := subscribers.NewStore(f.db).FindByEmail(context.Background(), "ana@example.com")
		if err != nil {
			t.Fatal(err)
		}
		res := f.do(f.client, "POST", fmt.Sprintf("/admin/subscribers/%d/status", ana.ID),
			url.Values{"csrf": {tok}, "status": {"unsubscribed"}, "back": {"q=ANA&status=active"}})
		if res.code != http.StatusSeeOther || res.hdr.Get("Location") != "/admin/subscribers?ok=status&q=ANA&status=active" {
			t.Fatalf("set status: %d to %q", res.code, res.hdr.Get("Location"))
		}
		if got, _ := subscribers.NewStore(f.db).Find(context.Background(), ana.ID); got.Status != subscribers.StatusUnsubscribed {
			t.Fatalf("status=%s, want unsubscribed", got.Status)
		}
		if res := f.do(f.client, "POST", fmt.Sprintf("/admin/subscribers/%d/status", ana.ID), url.Values{"csrf": {tok}, "status": {"gone"}}); res.code != http.StatusBadRequest {
			t.Fatalf("bad status: %d, want 400", res.code)
		}
		if res := f.do(f.client, "POST", "/admin/subscribers/999/status", url.Values{"csrf": {tok}, "status": {"active"}}); res.code != http.StatusNotFound {
			t.Fatalf("missing subscriber: %d, want 404", res.code)
		}
	})
	t.Run("ImportStories", func(t *testing.T) {
		upload := func(content string) adminResponse {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			mw.WriteField("csrf", tok)
			fw, _ := mw.CreateFormFile("file", "stories.json")
			fw.Write([]byte(content))
			mw.Close()
			req, _ := http.NewRequest("POST", f.server.URL+"/admin/stories/import", &b)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			res, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			return adminResponse{res.StatusCode, string(body), res.Header}
		}
		bad := upload(`{"stories":[{"id":"Bad ID","title":"t","summary":"s","published_at":"2026-11-27T00:00:00Z","articles":[]}]}`)
		if bad.code != http.StatusBadRequest || !strings.Contains(bad.body, "nothing imported") || !strings.Contains(bad.body, "story 0") {
			t.Fatalf("bad import: %d %s", bad.code, bad.body)
		}
		good := upload(`{"stories":[{"id":"new-one","title":"A new story","summary":"Short.","published_at":"2026-11-27T05:00:00Z",
			"articles":[{"source":"Example","bias":"center","url":"https://example.com/n"}]}]}`)
		if good.code != http.StatusOK || !strings.Contains(good.body, "imported 1 stories (1 new") || !strings.Contains(good.body, "A new story") {
			t.Fatalf("good import: %d %s", good.code, good.body)
		}
	})
}

func TestAPI(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword, token: testToken})
	f.seedDefault()
	call := f.api
	if code, out := call("POST", "/api/schedules", `{"name":"weekend","spec":"CRON_TZ=Europe/London 0 9 * * 0,6","stories":3}`); code != http.StatusCreated || len(out["next_runs"].([]any)) != 3 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := call("POST", "/api/schedules", `{"name":"bad","spec":"0 7 * * * *"}`); code != http.StatusBadRequest || !strings.Contains(out["error"].(string), "expected exactly 5 fields") {
		t.Fatalf("bad spec: %d %v", code, out)
	}
	if code, out := call("POST", "/api/schedules", `{"name":"x","spec":"0 7 * * *","colour":"red"}`); code != http.StatusBadRequest || !strings.Contains(out["error"].(string), "unknown field") {
		t.Fatalf("unknown field: %d %v", code, out)
	}
	if code, out := call("PATCH", "/api/schedules/weekend", `{"subject":"Weekend reads"}`); code != http.StatusOK || out["subject"] != "Weekend reads" || out["stories"] != float64(3) {
		t.Fatalf("patch: %d %v", code, out)
	}
	if code, out := call("POST", "/api/schedules/weekend/pause", ``); code != http.StatusOK || out["enabled"] != false {
		t.Fatalf("pause: %d %v", code, out)
	}
	if code, _ := call("DELETE", "/api/schedules/weekend", ``); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call("GET", "/api/schedules/weekend", ``); code != http.StatusNotFound {
		t.Fatalf("get deleted: %d", code)
	}
	if code, out := call("POST", "/api/send", `{"schedule":"default","date":"2026-11-27"}`); code != http.StatusAccepted {
		t.Fatalf("send: %d %v", code, out)
	}
	f.sched.Wait()
	code, out := call("GET", "/api/editions/default/2026-11-27", ``)
	p := out["progress"].(map[string]any)
	if code != http.StatusOK || p["status"] != "sent" || p["percent"] != float64(100) {
		t.Fatalf("edition: %d %v", code, out)
	}
	if code, out := call("GET", "/api/editions", ``); code != http.StatusOK || out["editions"].([]any)[0].(map[string]any)["sent"] != float64(2) {
		t.Fatalf("editions: %d %v", code, out)
	}
	if code, out := call("GET", "/api/preview?schedule=default&date=2026-11-27", ``); code != http.StatusOK || !strings.Contains(out["text"].(string), "Hello, Reader.") {
		t.Fatalf("preview: %d %v", code, out)
	}
	if code, out := call("POST", "/api/stories", `{"stories":[{"id":"x"}]}`); code != http.StatusBadRequest || len(out["problems"].([]any)) == 0 {
		t.Fatalf("bad import: %d %v", code, out)
	}
	code, out = call("GET", "/api/subscribers?q=ben", ``)
	if code != http.StatusOK || len(out["subscribers"].([]any)) != 1 {
		t.Fatalf("subscribers: %d %v", code, out)
	}
	ben := out["subscribers"].([]any)[0].(map[string]any)
	if code, out := call("POST", fmt.Sprintf("/api/subscribers/%v/status", ben["id"]), `{"status":"bounced"}`); code != http.StatusOK || out["status"] != "bounced" {
		t.Fatalf("set status: %d %v", code, out)
	}
}

func TestChartSVG(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.login(f.client, testPassword)
	dash := f.do(f.client, "GET", "/admin", nil)
	start, end := strings.Index(dash.body, "<svg"), strings.Index(dash.body, "</svg>")
	if start < 0 || end < 0 {
		t.Fatal("no chart")
	}
	// The chart is well-formed XML even with no edition.
	var v struct{}
	if err := xml.Unmarshal([]byte(dash.body[start:end+6]), &v); err != nil {
		t.Fatalf("chart is not XML: %v", err)
	}
}

// TestAdmin_MissedRun: a run missed while the server was down is shown on
// the dashboard and can be sent from its page.
func TestAdmin_MissedRun(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.seedDefault()
	// Back up at 14:00: the 07:00 run is 7 hours late, past the grace.
	f.clock.Set(time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC))
	if err := f.sched.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.sched.Wait()
	f.login(f.client, testPassword)
	dash := f.do(f.client, "GET", "/admin", nil)
	if !strings.Contains(dash.body, "Runs that need a look") || !strings.Contains(dash.body, `<span class="status missed">missed</span>`) {
		t.Fatalf("dashboard does not show the missed run:\n%s", dash.body)
	}
	page := f.do(f.client, "GET", "/admin/editions/default/2026-11-27", nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, "Send it now") || !strings.Contains(page.body, "send it with") {
		t.Fatalf("missed run page %d:\n%s", page.code, page.body)
	}
	res := f.do(f.client, "POST", "/admin/send", url.Values{"csrf": {f.csrf(f.client)}, "schedule": {"default"}, "date": {"2026-11-27"}})
	if res.code != http.StatusSeeOther {
		t.Fatalf("send the missed run: %d %s", res.code, res.body)
	}
	f.sched.Wait()
	rec, err := schedule.NewStore(f.db).RunOf(context.Background(), "default", "2026-11-27")
	if err != nil || rec.Status != schedule.RunDone {
		t.Fatalf("run=%+v, %v; want done", rec, err)
	}
	if n := len(f.smtp.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
}

// TestAdmin_SecretsNotLogged: neither the password, a wrong guess, the
// session cookie nor the API token reaches the log, at any level.
func TestAdmin_SecretsNotLogged(t *testing.T) {
	var logs syncBuffer
	f := newAdminFixture(t, adminOptions{password: testPassword, token: testToken, log: &logs})
	f.seedDefault()
	f.login(f.newClient(), "a wrong guess")
	f.login(f.client, testPassword)
	f.do(f.client, "GET", "/admin", nil)
	f.do(f.newClient(), "GET", "/api/schedules", nil, "Authorization", "Bearer "+testToken)
	f.do(f.newClient(), "GET", "/api/schedules", nil, "Authorization", "Bearer not-the-token")
	u, _ := url.Parse(f.server.URL + "/admin")
	var cookie string
	for _, c := range f.client.Jar.Cookies(u) {
		if c.Name == "bothsides_admin" {
			cookie = c.Value
		}
	}
	out := logs.String()
	if !strings.Contains(out, "admin login failed") || !strings.Contains(out, "admin logged in") {
		t.Fatalf("the logins were not logged:\n%s", out)
	}
	for _, secret := range []string{testPassword, "a wrong guess", testToken, "not-the-token", cookie} {
		if secret != "" && strings.Contains(out, secret) {
			t.Fatalf("the log contains %q:\n%s", secret, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
