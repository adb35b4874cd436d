package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
)

// signUpFixture is the web server with a real SMTP mailer pointed at an
// in-process SMTP server, over a real database with a test clock.
type signUpFixture struct {
	db     *sqlite.DB
	clock  *testsupport.Clock
	subs   *subscribers.Store
	signer *subscribers.Signer
	smtp   *testsupport.SMTPServer
	m      *mailer.SMTP
	url    string
}

func newSignUpFixture(t *testing.T, cfg web.Config) *signUpFixture {
	t.Helper()
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	f := &signUpFixture{db: db, clock: clock, subs: subscribers.NewStore(db), smtp: testsupport.StartSMTP(t)}
	signer, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f.signer = signer
	f.m, err = mailer.NewSMTP(mailer.Config{URL: f.smtp.URL() + "?tls=none", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.m.Close() })
	stories := digest.NewStore(db)
	imp, err := digest.ParseImport(strings.NewReader(`{"stories": [{
		"id": "budget", "title": "Council passes the budget", "summary": "The council voted 7-2.",
		"published_at": "2026-11-27T05:00:00Z", "topics": ["Economy", "Local"],
		"articles": [{"source": "Plains Courier", "bias": "center", "url": "https://example.com/v"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stories.Import(ctx, imp); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "http://" + ln.Addr().String()
	cfg.BaseURL, cfg.Mailer, cfg.From = f.url, f.m, "Both Sides <digest@bothsides.example>"
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: f.url})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(cfg, db, stories, f.subs, f.signer, r)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return f
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (f *signUpFixture) do(t *testing.T, method, path string, form url.Values, header ...string) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+/(confirm|preferences|unsubscribe)/[A-Za-z0-9_.-]+`)

// link returns the first link of kind in a received mail's text part.
func link(t *testing.T, r testsupport.Received, kind string) string {
	t.Helper()
	m, err := testsupport.ParseMail(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range linkPattern.FindAllStringSubmatch(m.Text, -1) {
		if l[1] == kind {
			return l[0]
		}
	}
	t.Fatalf("no %s link in:\n%s", kind, m.Text)
	return ""
}

func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func TestSubscribe_SameAnswerForEveryAddress(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	active, _ := f.subs.Add(ctx, "active@example.com", "Ada")
	unsub, _ := f.subs.Add(ctx, "left@example.com", "")
	f.subs.Unsubscribe(ctx, unsub.ID)
	f.subs.Add(ctx, "erased@example.com", "")
	f.subs.Erase(ctx, "erased@example.com")

	post := func(email string, extra ...string) response {
		v := url.Values{"email": {email}, "name": {"Someone"}, "timezone": {"Europe/Paris"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return f.do(t, "POST", "/subscribe", v)
	}
	answers := map[string]response{
		"new":          post("new@example.com"),
		"active":       post("active@example.com"),
		"active-case":  post("ACTIVE@Example.com"),
		"unsubscribed": post("left@example.com"),
		"erased":       post("erased@example.com"),
		"honeypot":     post("bot@example.com", "website", "http://spam.example"),
	}
	want := answers["new"]
	if want.code != http.StatusOK || !strings.Contains(want.body, "Check your inbox") {
		t.Fatalf("new: %d\n%s", want.code, want.body)
	}
	for name, got := range answers {
		if got.code != want.code || got.body != want.body {
			t.Errorf("%s: answer differs from a new address's (%d vs %d):\n%s", name, got.code, want.code, got.body)
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Length", "Set-Cookie"} {
			if got.header.Get(h) != want.header.Get(h) {
				t.Errorf("%s: header %s=%q, want %q", name, h, got.header.Get(h), want.header.Get(h))
			}
		}
	}
	// The mails differ, and only the owner of the address sees them. The
	// workers send in parallel: wait for each mail expected (the others
	// were never queued).
	f.smtp.WaitFor(t, "new@example.com", 1)
	f.smtp.WaitFor(t, "active@example.com", 2)
	f.smtp.WaitFor(t, "left@example.com", 1)
	if got := f.smtp.To("new@example.com"); len(got) != 1 || !strings.Contains(link(t, got[0], "confirm"), "/confirm/") {
		t.Fatalf("new: %d mails", len(got))
	}
	if got := f.smtp.To("active@example.com"); len(got) != 2 {
		t.Fatalf("active: %d mails, want 2 notes", len(got))
	} else if p := link(t, got[0], "preferences"); pathOf(t, p) != "/preferences/"+f.signer.Link(subscribers.PurposePreferences, active.ID, 0, f.clock.Now()) {
		t.Fatalf("already-subscribed note links %s", p)
	}
	if got := f.smtp.To("left@example.com"); len(got) != 1 {
		t.Fatalf("unsubscribed: %d mails, want a confirmation", len(got))
	}
	for _, addr := range []string{"erased@example.com", "bot@example.com"} {
		if got := f.smtp.To(addr); len(got) != 0 {
			t.Fatalf("%s was mailed", addr)
		}
	}
	if _, err := f.subs.FindByEmail(ctx, "bot@example.com"); err == nil {
		t.Fatal("the honeypot sign-up was stored")
	}
	left, _ := f.subs.FindByEmail(ctx, "left@example.com")
	if left.Status != subscribers.StatusUnsubscribed {
		t.Fatalf("sign-up alone changed an unsubscribed address to %s", left.Status)
	}
}

// TestSubscribe_NoMessageForStrangers: the form takes a name and topics for
// any address; the confirmation mail must not carry them to the stranger.
func TestSubscribe_NoMessageForStrangers(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	spam := "Win a prize at http://prize.example now"
	f.do(t, "POST", "/subscribe", url.Values{"email": {"victim@example.com"}, "name": {spam}, "topics": {"Visit prize.example"}})
	raw := f.smtp.WaitFor(t, "victim@example.com", 1)[0]
	m, err := testsupport.ParseMail(raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw.Data), "prize") || strings.Contains(m.Text, "prize") || strings.Contains(m.HTML, "prize") {
		t.Fatalf("the confirmation mail carries what the form said:\n%s", raw.Data)
	}
	if to := m.Header.Get("To"); to != "<victim@example.com>" && to != "victim@example.com" {
		t.Fatalf("To=%q, want the bare address", to)
	}
}

func TestSubscribe_BadInput(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	for _, tt := range []struct {
		name string
		form url.Values
		want string
	}{
		{"HeaderInjectionInAddress", url.Values{"email": {"a@example.com\r\nBcc: victim@example.org"}}, "control character"},
		{"TwoAddresses", url.Values{"email": {"a@example.com, b@example.com"}}, "check the email address"},
		{"DisplayName", url.Values{"email": {"Eve <eve@example.com>"}}, "without a display name"},
		{"Empty", url.Values{"email": {""}}, "empty"},
		{"HeaderInjectionInName", url.Values{"email": {"n@example.com"}, "name": {"Eve\r\nBcc: victim@example.org"}}, "control character"},
		{"ScriptInName", url.Values{"email": {"s@example.com"}, "name": {"<script>alert(1)</script>\u202e"}}, "control character"},
		{"TimeZone", url.Values{"email": {"tz@example.com"}, "timezone": {"../../etc/passwd"}}, "time zone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(t, "POST", "/subscribe", tt.form)
			if got.code != http.StatusBadRequest || !strings.Contains(got.body, tt.want) {
				t.Fatalf("%d, want 400 mentioning %q:\n%s", got.code, tt.want, got.body)
			}
			if strings.Contains(got.body, "<script>alert") {
				t.Fatal("input echoed unescaped")
			}
		})
	}
	list, _ := f.subs.List(context.Background())
	if len(list) != 0 {
		t.Fatalf("bad sign-ups stored: %v", list)
	}
	t.Run("CrossSite", func(t *testing.T) {
		got := f.do(t, "POST", "/subscribe", url.Values{"email": {"x@example.com"}}, "Sec-Fetch-Site", "cross-site")
		if got.code != http.StatusForbidden {
			t.Fatalf("cross-site POST: %d, want 403", got.code)
		}
	})
}

func TestSubscribe_RateLimits(t *testing.T) {
	f := newSignUpFixture(t, web.Config{SignUp: subscribers.SignUpConfig{
		PerAddress: subscribers.Limit{N: 2, Window: 24 * time.Hour},
		PerNetwork: subscribers.Limit{N: 4, Window: time.Hour}}})
	var first response
	for i := 0; i < 3; i++ {
		got := f.do(t, "POST", "/subscribe", url.Values{"email": {"flood@example.com"}})
		if i == 0 {
			first = got
		}
		if got.code != http.StatusOK || got.body != first.body {
			t.Fatalf("attempt %d: %d; the answer must not change when the address's limit is reached", i+1, got.code)
		}
	}
	// Fourth from this network: allowed; fifth: refused, whatever the address.
	f.do(t, "POST", "/subscribe", url.Values{"email": {"other@example.com"}})
	f.smtp.WaitFor(t, "other@example.com", 1)
	if got := f.smtp.To("flood@example.com"); len(got) != 2 {
		t.Fatalf("flood@: %d mails, want 2 (the per-address limit)", len(got))
	}
	got := f.do(t, "POST", "/subscribe", url.Values{"email": {"fifth@example.com"}})
	if got.code != http.StatusTooManyRequests || got.header.Get("Retry-After") == "" || !strings.Contains(got.body, "try again later") {
		t.Fatalf("fifth: %d %v", got.code, got.header)
	}
	f.clock.Advance(time.Hour + time.Second)
	if got := f.do(t, "POST", "/subscribe", url.Values{"email": {"fifth@example.com"}}); got.code != http.StatusOK {
		t.Fatalf("after an hour: %d", got.code)
	}
}

func TestConfirm(t *testing.T) {
	f := newSignUpFixture(t, web.Config{SignUp: subscribers.SignUpConfig{PendingExpiry: 24 * time.Hour}})
	ctx := context.Background()
	f.do(t, "POST", "/subscribe", url.Values{"email": {"c@example.com"}, "topics": {"Economy"}})
	confirm := pathOf(t, link(t, f.smtp.WaitFor(t, "c@example.com", 1)[0], "confirm"))

	page := f.do(t, "GET", confirm, nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, `id="confirm"`) {
		t.Fatalf("GET confirm: %d\n%s", page.code, page.body)
	}
	if sub, _ := f.subs.FindByEmail(ctx, "c@example.com"); sub.Status != subscribers.StatusPending {
		t.Fatalf("following the link alone made it %s", sub.Status)
	}
	t.Run("Tampered", func(t *testing.T) {
		for _, bad := range []string{confirm + "x", strings.Replace(confirm, "/confirm/", "/confirm/A", 1), "/confirm/" + f.signer.Token(subscribers.PurposeUnsubscribe, 1, time.Time{})} {
			if got := f.do(t, "POST", bad, url.Values{}); got.code != http.StatusBadRequest || !strings.Contains(got.body, "Sign up again") {
				t.Errorf("POST %s: %d", bad, got.code)
			}
		}
	})
	got := f.do(t, "POST", confirm, url.Values{})
	if got.code != http.StatusOK || !strings.Contains(got.body, "You are subscribed") {
		t.Fatalf("POST confirm: %d\n%s", got.code, got.body)
	}
	sub, _ := f.subs.FindByEmail(ctx, "c@example.com")
	if sub.Status != subscribers.StatusActive || len(sub.Topics) != 1 {
		t.Fatalf("after confirming: %+v", sub)
	}
	if again := f.do(t, "POST", confirm, url.Values{}); again.code != http.StatusOK {
		t.Fatalf("confirming twice: %d", again.code)
	}

	t.Run("Expired", func(t *testing.T) {
		f.do(t, "POST", "/subscribe", url.Values{"email": {"late@example.com"}})
		late := pathOf(t, link(t, f.smtp.WaitFor(t, "late@example.com", 1)[0], "confirm"))
		f.clock.Advance(24*time.Hour + time.Second)
		for _, m := range []string{"GET", "POST"} {
			if got := f.do(t, m, late, url.Values{}); got.code != http.StatusBadRequest || !strings.Contains(got.body, "Sign up again") {
				t.Fatalf("%s expired: %d", m, got.code)
			}
		}
		if s, _ := f.subs.FindByEmail(ctx, "late@example.com"); s.Status != subscribers.StatusPending {
			t.Fatalf("expired link changed the status to %s", s.Status)
		}
	})
}

func TestUnsubscribe_OneClick(t *testing.T) {
	f := newSignUpFixture(t, web.Config{UnsubscribeMailto: "mailto:leave@bothsides.example?subject=unsubscribe"})
	ctx := context.Background()
	sub, _ := f.subs.Add(ctx, "u@example.com", "")
	path := "/unsubscribe/" + f.signer.Token(subscribers.PurposeUnsubscribe, sub.ID, time.Time{})

	page := f.do(t, "GET", path, nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, `id="unsubscribe"`) || !strings.Contains(page.body, "leave@bothsides.example") {
		t.Fatalf("GET: %d\n%s", page.code, page.body)
	}
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusActive {
		t.Fatalf("GET unsubscribed: %s", s.Status)
	}
	// Exactly what Gmail and Yahoo send: a POST with this body, no cookie,
	// no Origin, no token other than the URL.
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("POST", f.url+path, strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "You are unsubscribed") {
			t.Fatalf("one-click POST %d: %d\n%s", i+1, resp.StatusCode, b)
		}
		if !strings.Contains(string(b), `id="resubscribe"`) || !strings.Contains(string(b), "change your preferences instead") {
			t.Fatalf("result page lacks resubscribe or preferences:\n%s", b)
		}
	}
	s, _ := f.subs.Find(ctx, sub.ID)
	if s.Status != subscribers.StatusUnsubscribed {
		t.Fatalf("status %s", s.Status)
	}
	if got := f.do(t, "POST", path+"x", url.Values{"List-Unsubscribe": {"One-Click"}}); got.code != http.StatusBadRequest {
		t.Fatalf("tampered token: %d", got.code)
	}
	re := f.do(t, "POST", "/resubscribe/"+f.signer.Token(subscribers.PurposePreferences, sub.ID, time.Time{}), url.Values{})
	if re.code != http.StatusOK || !strings.Contains(re.body, "subscribed again") {
		t.Fatalf("resubscribe: %d\n%s", re.code, re.body)
	}
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusActive {
		t.Fatalf("after resubscribe: %s", s.Status)
	}
	// The unsubscribe token cannot resubscribe.
	if got := f.do(t, "POST", "/resubscribe/"+f.signer.Token(subscribers.PurposeUnsubscribe, sub.ID, time.Time{}), url.Values{}); got.code != http.StatusBadRequest {
		t.Fatalf("resubscribe with an unsubscribe token: %d", got.code)
	}
}

func TestPreferences(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	sub, _ := f.subs.Add(ctx, "p@example.com", "Pat")
	path := "/preferences/" + f.signer.Token(subscribers.PurposePreferences, sub.ID, time.Time{})

	page := f.do(t, "GET", path, nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, `value="Economy"`) || !strings.Contains(page.body, `value="Pat"`) {
		t.Fatalf("GET: %d\n%s", page.code, page.body)
	}
	got := f.do(t, "POST", path, url.Values{"name": {"Patricia"}, "topics": {"Economy", "Local"}, "timezone": {"America/New_York"},
		"hour": {"6"}, "pause": {"2"}})
	if got.code != http.StatusOK || !strings.Contains(got.body, "preferences are saved") || !strings.Contains(got.body, `id="paused"`) {
		t.Fatalf("POST: %d\n%s", got.code, got.body)
	}
	s, _ := f.subs.Find(ctx, sub.ID)
	if s.Name != "Patricia" || len(s.Topics) != 2 || s.Timezone != "America/New_York" || s.PreferredHour != 6 ||
		!s.PausedUntil.Equal(f.clock.Now().Add(14*24*time.Hour)) || s.Mailable(f.clock.Now()) {
		t.Fatalf("saved: %+v", s)
	}
	for _, tt := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"hour": {"24"}}, "between 0 and 23"},
		{url.Values{"pause": {"5"}}, "1 to 4 weeks"},
		{url.Values{"timezone": {"Nowhere/City"}}, "time zone"},
		{url.Values{"name": {"P\r\nBcc: x@example.com"}}, "control character"},
	} {
		if got := f.do(t, "POST", path, tt.form); got.code != http.StatusBadRequest || !strings.Contains(got.body, tt.want) {
			t.Errorf("POST %v: %d, want 400 mentioning %q", tt.form, got.code, tt.want)
		}
	}
	if s2, _ := f.subs.Find(ctx, sub.ID); s2.Name != "Patricia" {
		t.Fatalf("a refused form changed the name to %q", s2.Name)
	}
	if got := f.do(t, "POST", path, url.Values{"pause": {"resume"}, "name": {"Pat"}}); got.code != http.StatusOK {
		t.Fatalf("resume: %d", got.code)
	}
	if s3, _ := f.subs.Find(ctx, sub.ID); !s3.Mailable(f.clock.Now()) {
		t.Fatalf("resume left %+v", s3)
	}
	for _, bad := range []string{path + "x", "/preferences/" + f.signer.Token(subscribers.PurposeUnsubscribe, sub.ID, time.Time{})} {
		if got := f.do(t, "POST", bad, url.Values{"name": {"Mallory"}}); got.code != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, got.code)
		}
	}
	if got := f.do(t, "POST", path, url.Values{"name": {"Mallory"}}, "Sec-Fetch-Site", "cross-site"); got.code != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", got.code)
	}
}

func TestSubscribePage_ScriptAndPolicy(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	page := f.do(t, "GET", "/subscribe", nil)
	csp := page.header.Get("Content-Security-Policy")
	if page.code != http.StatusOK || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline' 'self") {
		t.Fatalf("GET /subscribe: %d, CSP %q", page.code, csp)
	}
	if strings.Contains(page.body, "<script>") || !strings.Contains(page.body, `<script src="/static/tz.js"`) {
		t.Fatal("the page must load its script from /static, with no inline script")
	}
	for _, want := range []string{`name="email"`, `name="name"`, `name="topics" value="Economy"`, `<option value="Europe/Paris">`, `name="website"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	js := f.do(t, "GET", "/static/tz.js", nil)
	if js.code != http.StatusOK || !strings.Contains(js.header.Get("Content-Type"), "javascript") || !strings.Contains(js.body, "resolvedOptions().timeZone") {
		t.Fatalf("tz.js: %d %q", js.code, js.header.Get("Content-Type"))
	}
	if got := f.do(t, "GET", "/static/", nil); got.code == http.StatusOK {
		t.Fatal("/static/ lists its files")
	}
}

// TestSubscribe_OutboxFull: when the sign-up mail outbox is full (the
// relay hangs), the form answers 503 with Retry-After instead of "check
// your inbox", stores nothing, logs the refusal and counts it in /metrics;
// once the relay answers again, sign-up works.
func TestSubscribe_OutboxFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	f := newSignUpFixture(t, web.Config{Outbox: web.OutboxConfig{Workers: 1, Capacity: 2}, Registerer: reg,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), Logger: logger})
	if _, err := f.subs.Add(context.Background(), "active@example.com", "Ada"); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	f.smtp.Accepted = func([]string) { <-release }
	f.smtp.Sync()
	post := func(email string) response {
		return f.do(t, "POST", "/subscribe", url.Values{"email": {email}})
	}
	// One mail in flight at the hung relay, one queued: the outbox is full,
	// and every address (new, or already subscribed) gets the same 503.
	for _, addr := range []string{"one@example.com", "two@example.com"} {
		if got := post(addr); got.code != http.StatusOK || !strings.Contains(got.body, "Check your inbox") {
			t.Fatalf("%s: %d\n%s", addr, got.code, got.body)
		}
	}
	for _, addr := range []string{"three@example.com", "active@example.com"} {
		got := post(addr)
		if got.code != http.StatusServiceUnavailable || got.header.Get("Retry-After") != "60" {
			t.Fatalf("%s with a full outbox: %d (Retry-After %q), want 503 and 60", addr, got.code, got.header.Get("Retry-After"))
		}
		if strings.Contains(got.body, "Check your inbox") || !strings.Contains(got.body, "try again in a minute") {
			t.Fatalf("%s: the 503 page does not say to try again:\n%s", addr, got.body)
		}
	}
	if _, err := f.subs.FindByEmail(context.Background(), "three@example.com"); err == nil {
		t.Fatal("a refused sign-up was stored")
	}
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if !strings.Contains(logged, "sign-up mail outbox full") {
		t.Fatalf("refusal not logged:\n%s", logged)
	}
	metrics := f.do(t, "GET", "/metrics", nil)
	for _, want := range []string{"bothsides_signup_mails_refused_total 2", "bothsides_signup_mail_outbox 2", "bothsides_signup_mails_queued_total 2"} {
		if !strings.Contains(metrics.body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, metrics.body)
		}
	}
	unblock()
	f.smtp.WaitFor(t, "two@example.com", 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := post("three@example.com")
		if got.code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sign-up still refused after the relay recovered: %d", got.code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.smtp.WaitFor(t, "three@example.com", 1)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
