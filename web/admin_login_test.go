package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/schedule"
	"bothsides/subscribers"
	"bothsides/web"
)

// gate is a login delay that blocks until opened, as a long real delay
// would, and records whether the client could have cut it short.
type gate struct {
	entered     chan time.Duration
	open        chan struct{}
	advance     func(time.Duration) // moves the test clock once a delay ends, if set
	once        sync.Once
	mu          sync.Mutex
	cancellable int
}

// newGate returns a closed gate.
func newGate() *gate {
	return &gate{entered: make(chan time.Duration, 100), open: make(chan struct{})}
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) sleep(ctx context.Context, d time.Duration) {
	if ctx.Done() != nil {
		g.mu.Lock()
		g.cancellable++
		g.mu.Unlock()
	}
	g.entered <- d
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	if g.advance != nil {
		g.advance(d)
	}
}

// loginForm fetches the login form with c and returns its CSRF token.
func (f *adminFixture) loginForm(c *http.Client) string {
	f.t.Helper()
	page := f.do(c, "GET", "/admin/login", nil)
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		f.t.Fatalf("login page has no CSRF field: %d", page.code)
	}
	return m[1]
}

// noRedirects is a client without cookies that does not follow redirects.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// postLogin posts the login form with its token (the form's field and
// cookie) as a client of network ip; safe from any goroutine.
func (f *adminFixture) postLogin(ctx context.Context, _ *http.Client, csrf, ip, password string) (int, http.Header, error) {
	form := url.Values{"csrf": {csrf}, "password": {password}, "next": {"/admin"}}
	req, err := http.NewRequestWithContext(ctx, "POST", f.server.URL+"/admin/login", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Real-IP", ip)
	req.AddCookie(&http.Cookie{Name: "bothsides_login", Value: csrf})
	res, err := noRedirects.Do(req)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header, nil
}

// rightLogin logs in from network ip and fails the test unless it is
// answered 303 within 3 s.
func (f *adminFixture) rightLogin(ip string) {
	f.t.Helper()
	c := f.newClient()
	csrf := f.loginForm(c)
	start := time.Now()
	code, _, err := f.postLogin(context.Background(), c, csrf, ip, testPassword)
	if took := time.Since(start); err != nil || code != http.StatusSeeOther || took > 3*time.Second {
		f.t.Fatalf("right login from %s: %d %v after %s, want 303 within 3s", ip, code, err, took)
	}
}

// TestAdmin_LoginLockout sends 60 wrong logins at once while their delays
// are held open, and logs in with the right password meanwhile.
func TestAdmin_LoginLockout(t *testing.T) {
	t.Run("OneNetwork", func(t *testing.T) {
		g := newGate()
		f := newAdminFixture(t, adminOptions{password: testPassword, sleep: g.sleep})
		t.Cleanup(g.release) // before the server closes, which waits for the delays
		c := f.newClient()
		csrf := f.loginForm(c)
		codes := make(chan int, 60)
		for i := range 60 {
			go func() {
				code, hdr, err := f.postLogin(context.Background(), c, csrf, "203.0.113.7", fmt.Sprintf("wrong guess %d", i))
				if code == http.StatusTooManyRequests && hdr.Get("Retry-After") == "" {
					code = -1
				}
				if err != nil {
					code = 0
				}
				codes <- code
			}()
		}
		// One attempt of the network is checked and waits out its delay;
		// the other 59 are refused at once.
		for range 59 {
			if code := <-codes; code != http.StatusTooManyRequests {
				t.Fatalf("a concurrent attempt of the same network: %d, want 429 with Retry-After", code)
			}
		}
		if d := <-g.entered; d != time.Second {
			t.Fatalf("delay %s, want 1s", d)
		}
		f.rightLogin("198.51.100.9")
		g.release()
		if code := <-codes; code != http.StatusUnauthorized {
			t.Fatalf("the checked attempt: %d, want 401", code)
		}
	})
	t.Run("ManyNetworks", func(t *testing.T) {
		g := newGate()
		f := newAdminFixture(t, adminOptions{password: testPassword, sleep: g.sleep})
		t.Cleanup(g.release) // before the server closes, which waits for the delays
		c := f.newClient()
		csrf := f.loginForm(c)
		codes := make(chan int, 60)
		for i := range 60 {
			go func() {
				code, _, err := f.postLogin(context.Background(), c, csrf, fmt.Sprintf("2001:db8:0:%x::1", i), "wrong guess")
				if err != nil {
					code = 0
				}
				codes <- code
			}()
		}
		// Each attempt is refused (the queue was full) or checked and held
		// in its delay.
		var delays []time.Duration
		for refused := 0; refused+len(delays) < 60; {
			select {
			case code := <-codes:
				if code != http.StatusTooManyRequests {
					t.Fatalf("attempt answered %d during the delays, want 429", code)
				}
				refused++
			case d := <-g.entered:
				delays = append(delays, d)
			}
		}
		f.rightLogin("198.51.100.9")
		g.release()
		for range delays {
			if code := <-codes; code != http.StatusUnauthorized {
				t.Fatalf("a checked attempt: %d, want 401", code)
			}
		}
		// Every 10 failures over all networks double the delay.
		var want []time.Duration
		for i := 1; i <= len(delays); i++ {
			want = append(want, min(time.Second<<(i/10), 30*time.Second))
		}
		slices.Sort(delays)
		if !slices.Equal(delays, want) {
			t.Fatalf("delays %v, want %v", delays, want)
		}
		t.Logf("%d of 60 checked, the rest refused", len(delays))
	})
}

// TestAdmin_LoginQueueCap holds the password check: attempts past the
// queue's cap are answered 429 at once.
func TestAdmin_LoginQueueCap(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword, queue: 2})
	release := web.HoldCheck(f.admin)
	c := f.newClient()
	csrf := f.loginForm(c)
	codes := make(chan int, 2)
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		go func() {
			code, _, _ := f.postLogin(context.Background(), c, csrf, ip, "wrong guess")
			codes <- code
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); web.QueuedLogins(f.admin) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts queued, want 2", web.QueuedLogins(f.admin))
		}
	}
	code, hdr, err := f.postLogin(context.Background(), c, csrf, "192.0.2.3", testPassword)
	if err != nil || code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" {
		t.Fatalf("past the cap: %d %v, Retry-After %q; want 429 at once, Retry-After 1", code, err, hdr.Get("Retry-After"))
	}
	release()
	for range 2 {
		if code := <-codes; code != http.StatusUnauthorized {
			t.Fatalf("queued attempt: %d, want 401", code)
		}
	}
	f.rightLogin("192.0.2.3")
}

// TestAdmin_LoginHangUp hangs up during a failed login's delay: the delay
// goes on, the network's next attempt is refused meanwhile, and its next
// failure waits twice as long.
func TestAdmin_LoginHangUp(t *testing.T) {
	g := newGate()
	f := newAdminFixture(t, adminOptions{password: testPassword, sleep: g.sleep})
	t.Cleanup(g.release) // before the server closes, which waits for the delays
	g.advance = f.clock.Advance
	c := f.newClient()
	csrf := f.loginForm(c)
	const ip = "203.0.113.50"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := f.postLogin(ctx, c, csrf, ip, "wrong guess")
		done <- err
	}()
	if d := <-g.entered; d != time.Second {
		t.Fatalf("delay %s, want 1s", d)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("hung-up client: %v", err)
	}
	// Even the right password waits for the delay to pass.
	if code, _, _ := f.postLogin(context.Background(), c, csrf, ip, testPassword); code != http.StatusTooManyRequests {
		t.Fatalf("attempt during the abandoned delay: %d, want 429", code)
	}
	g.release()
	retry := func(password string) int {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			// 429 until the abandoned attempt has finished its delay.
			if code, _, _ := f.postLogin(context.Background(), c, csrf, ip, password); code != http.StatusTooManyRequests {
				return code
			}
		}
		t.Fatal("still refused 5s after the delay")
		return 0
	}
	if code := retry("another guess"); code != http.StatusUnauthorized {
		t.Fatalf("next guess: %d, want 401", code)
	}
	if d := <-g.entered; d != 2*time.Second {
		t.Fatalf("the next failure's delay %s, want 2s: the abandoned one counted", d)
	}
	if code := retry(testPassword); code != http.StatusSeeOther {
		t.Fatalf("right password: %d, want 303", code)
	}
	if code := retry("a typo"); code != http.StatusUnauthorized || <-g.entered != time.Second {
		t.Fatalf("after a good login: %d, want 401 after 1s again", code)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancellable != 0 {
		t.Fatalf("%d delays could be cancelled by the client", g.cancellable)
	}
}

// TestAdmin_LoginBackoff checks the delays of failures in a row, per
// network and over all networks.
func TestAdmin_LoginBackoff(t *testing.T) {
	wrong := func(f *adminFixture, ip string) {
		t.Helper()
		c := f.newClient()
		if code, _, err := f.postLogin(context.Background(), c, f.loginForm(c), ip, "wrong guess"); code != http.StatusUnauthorized {
			t.Fatalf("wrong login from %s: %d %v, want 401", ip, code, err)
		}
	}
	t.Run("OneNetwork", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		for range 7 {
			wrong(f, "203.0.113.7")
		}
		wrong(f, "198.51.100.9") // another network starts at 1s
		f.clock.Advance(16 * time.Minute)
		wrong(f, "203.0.113.7") // 15 quiet minutes forgive
		s := time.Second
		if want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s, s, s}; !slices.Equal(f.sleeps, want) {
			t.Fatalf("delays %v, want %v", f.sleeps, want)
		}
	})
	t.Run("IPv6Network", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		// One /64, as sign-up counts it.
		wrong(f, "2001:db8:1:2::1")
		wrong(f, "2001:db8:1:2:ffff::9")
		if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(f.sleeps, want) {
			t.Fatalf("delays %v, want %v", f.sleeps, want)
		}
	})
	t.Run("AllNetworks", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword, failDelay: 100 * time.Millisecond})
		for i := range 25 {
			wrong(f, fmt.Sprintf("10.0.0.%d", i+1))
		}
		var want []time.Duration
		for i := 1; i <= 25; i++ {
			want = append(want, 100*time.Millisecond<<(i/10))
		}
		if !slices.Equal(f.sleeps, want) {
			t.Fatalf("delays %v, want %v", f.sleeps, want)
		}
	})
}

func TestNewAdmin_PasswordLength(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"elevenchars", false}, {"twelve chars", true}, {"ééééééééééé", false}, {"éééééééééééé", true}, {"", true},
	} {
		_, err := web.NewAdmin(web.AdminConfig{Password: tc.password, PasswordIterations: 1000}, nil, db, nil, nil, nil, nil, nil, nil)
		if got := err == nil; got != tc.ok {
			t.Errorf("%q: err=%v, want ok=%v", tc.password, err, tc.ok)
		}
		if !tc.ok && (!errors.Is(err, web.ErrPasswordTooShort) || !strings.Contains(err.Error(), "at least 12")) {
			t.Errorf("%q: err=%v, want ErrPasswordTooShort naming 12", tc.password, err)
		}
	}
}

// TestAdmin_SessionIdle ends a session after 30 minutes without a request;
// the progress poller does not count as one.
func TestAdmin_SessionIdle(t *testing.T) {
	t.Run("Idle", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		f.login(f.client, testPassword)
		for range 3 {
			f.clock.Advance(30*time.Minute - time.Second)
			if res := f.do(f.client, "GET", "/admin", nil); res.code != http.StatusOK {
				t.Fatalf("%s after the last request: %d, want 200", 30*time.Minute-time.Second, res.code)
			}
		}
		f.clock.Advance(30 * time.Minute)
		if res := f.do(f.client, "GET", "/admin", nil); res.code != http.StatusSeeOther || !strings.HasPrefix(res.hdr.Get("Location"), "/admin/login") {
			t.Fatalf("after 30 idle minutes: %d, want 303 to the login page", res.code)
		}
	})
	t.Run("PollerIsNotActivity", func(t *testing.T) {
		f := newAdminFixture(t, adminOptions{password: testPassword})
		f.seedDefault()
		f.login(f.client, testPassword)
		f.clock.Advance(20 * time.Minute)
		if res := f.do(f.client, "GET", "/admin/editions/default/2026-11-27/progress", nil); res.code == http.StatusSeeOther || res.code == http.StatusForbidden {
			t.Fatalf("progress within the session: %d", res.code)
		}
		f.clock.Advance(10 * time.Minute)
		if res := f.do(f.client, "GET", "/admin", nil); res.code != http.StatusSeeOther {
			t.Fatalf("30 minutes after the last page, polled meanwhile: %d, want 303", res.code)
		}
	})
}

// restart mounts a new server and console with password on the fixture's
// database, as a restart of the process would.
func (f *adminFixture) restart(password string) *httptest.Server {
	f.t.Helper()
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		f.t.Fatal(err)
	}
	key, err := f.db.Secret(context.Background(), "token_secret")
	if err != nil {
		f.t.Fatal(err)
	}
	store, subs := digest.NewStore(f.db), subscribers.NewStore(f.db)
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1"}, f.db, store, subs, subscribers.NewSigner(key), r)
	if err != nil {
		f.t.Fatal(err)
	}
	admin, err := web.NewAdmin(web.AdminConfig{Password: password, PasswordIterations: 1000}, nil, f.db, store, subs,
		schedule.NewStore(f.db), f.sched, testMail{f}, r)
	if err != nil {
		f.t.Fatal(err)
	}
	srv.SetAdmin(admin)
	s := httptest.NewServer(srv.Handler())
	f.t.Cleanup(s.Close)
	return s
}

// TestAdmin_SessionsDroppedOnPasswordChange replays a session cookie
// against a restart with the same password and one with another.
func TestAdmin_SessionsDroppedOnPasswordChange(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword})
	f.seedDefault()
	f.login(f.client, testPassword)
	u, _ := url.Parse(f.server.URL + "/admin")
	cookies := f.client.Jar.Cookies(u)
	get := func(s *httptest.Server) int {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+"/admin", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := f.newClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(f.restart(testPassword)); code != http.StatusOK {
		t.Fatalf("restart with the same password: %d, want 200 (the session survives)", code)
	}
	if code := get(f.restart("a new password, longer")); code != http.StatusSeeOther {
		t.Fatalf("restart with a new password: %d, want 303 to the login page", code)
	}
	if code := get(f.restart(testPassword)); code != http.StatusOK {
		t.Fatalf("the old password back: %d, want 200", code)
	}
}

// TestServer_HSTS: Strict-Transport-Security on every page when the base
// URL is https, on none when it is http.
func TestServer_HSTS(t *testing.T) {
	for _, base := range []string{"https://news.example.com", "http://127.0.0.1"} {
		f := newAdminFixture(t, adminOptions{password: testPassword, baseURL: base})
		for _, path := range []string{"/healthz", "/editions", "/subscribe", "/admin/login", "/admin", "/nothing-here", "/unsubscribe/forged"} {
			res := f.do(f.newClient(), "GET", path, nil)
			got := res.hdr.Get("Strict-Transport-Security")
			if want := ""; strings.HasPrefix(base, "https:") {
				if got != "max-age=31536000" {
					t.Errorf("%s %s: Strict-Transport-Security %q, want max-age=31536000", base, path, got)
				}
			} else if got != want {
				t.Errorf("%s %s: Strict-Transport-Security %q over http", base, path, got)
			}
		}
	}
}
