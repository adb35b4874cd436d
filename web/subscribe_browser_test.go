package web_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/subscribers"
	"bothsides/web"
)

// TestSubscriber_Browser walks a reader's whole life in headless Chromium
// against the server on 127.0.0.1 and a real SMTP server: sign up on the
// page, confirm from the mail, receive an edition, unsubscribe from its
// link; then a mail provider's one-click POST for another reader.
func TestSubscriber_Browser(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	bctx := testsupport.Browser(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(testsupport.ArtifactDir(t), name), png, 0o644)
	}

	// 1. Sign up. The browser says it is in Tokyo; the page's script picks
	// that zone in the select.
	err := chromedp.Do(bctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"})
			return err
		}),
		chromedp.Navigate(f.url+"/subscribe"),
		chromedp.WaitVisible("#email"),
	)
	if err != nil {
		t.Fatalf("open /subscribe: %v", err)
	}
	tz, err := chromedp.Run(bctx, chromedp.Value("#timezone"))
	if err != nil || tz != "Asia/Tokyo" {
		t.Fatalf("detected time zone %q, %v; want Asia/Tokyo", tz, err)
	}
	shot("subscribe-form.png")
	err = chromedp.Do(bctx,
		chromedp.SendKeys("#email", "Rita@Example.com"),
		chromedp.SendKeys("#name", "Rita"),
		chromedp.Click(`input[name="topics"][value="Economy"]`),
		chromedp.Click("#subscribe"),
		chromedp.WaitVisible("#check-inbox"),
	)
	if err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	shot("subscribe-sent.png")
	sub, err := f.subs.FindByEmail(ctx, "rita@example.com")
	if err != nil || sub.Status != subscribers.StatusPending || sub.Timezone != "Asia/Tokyo" || sub.Name != "Rita" {
		t.Fatalf("after the form: %+v, %v", sub, err)
	}

	// 2. The confirmation mail, through the same mailer. A link scanner's
	// plain GET changes nothing; a person opening the link in a browser is
	// subscribed at once (the page submits its own form).
	mails := f.smtp.WaitFor(t, "Rita@example.com", 1)
	confirmURL := link(t, mails[0], "confirm")
	if !strings.HasPrefix(confirmURL, f.url+"/confirm/") {
		t.Fatalf("confirm link %s does not point at the server", confirmURL)
	}
	resp, err := http.Get(confirmURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusPending {
		t.Fatalf("a plain GET of the link made it %s", s.Status)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(confirmURL), chromedp.WaitVisible("#confirmed")); err != nil {
		t.Fatalf("open the confirm link: %v", err)
	}
	shot("subscribe-confirmed.png")
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusActive || len(s.Topics) != 1 || s.Topics[0] != "Economy" {
		t.Fatalf("after confirming: %+v", s)
	}

	// 3. An edition, sent as `bothsides send` does. Another reader gets it
	// too; a paused one and a pending one do not.
	other, _ := f.subs.Add(ctx, "otto@example.org", "Otto")
	paused, _ := f.subs.Add(ctx, "paula@example.net", "")
	if _, err := f.subs.Pause(ctx, paused.ID, 1); err != nil {
		t.Fatal(err)
	}
	f.subs.SignUp(ctx, subscribers.SignUp{Email: "pending@example.net"}, subscribers.SignUpConfig{})
	stories := digest.NewStore(f.db)
	e, err := stories.Open(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: f.clock.Now(), Selection: digest.DefaultSelection})
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: f.url})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := delivery.NewSender(delivery.Config{From: "Both Sides <digest@bothsides.example>", BaseURL: f.url}, f.db, r, f.signer, func() delivery.Conn { return f.m.Open() }).Send(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Sent != 2 {
		t.Fatalf("edition sent to %d, want 2 (Rita and Otto; not the paused or pending)", stats.Sent)
	}
	for _, addr := range []string{"paula@example.net", "pending@example.net"} {
		if n := len(f.smtp.To(addr)); n != 0 {
			t.Fatalf("%s got %d mails", addr, n)
		}
	}
	edition := f.smtp.WaitFor(t, "Rita@example.com", 2)[1]
	unsubURL := link(t, edition, "unsubscribe")

	// 4. Unsubscribe from the edition's link: a page with one button.
	if err := chromedp.Do(bctx, chromedp.Navigate(unsubURL), chromedp.WaitVisible("#unsubscribe")); err != nil {
		t.Fatalf("open the unsubscribe link: %v", err)
	}
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusActive {
		t.Fatalf("opening the unsubscribe link made it %s", s.Status)
	}
	if err := chromedp.Do(bctx, chromedp.Click("#unsubscribe"), chromedp.WaitVisible("#unsubscribed")); err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	shot("unsubscribed.png")
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusUnsubscribed {
		t.Fatalf("after the button: %s", s.Status)
	}
	// The result page offers both ways back.
	for _, sel := range []string{"#resubscribe", "#preferences"} {
		if _, err := chromedp.Run(bctx, chromedp.Text(sel)); err != nil {
			t.Fatalf("result page lacks %s: %v", sel, err)
		}
	}

	// 5. Otto's mail provider unsubscribes him with the RFC 8058 one-click
	// POST to the List-Unsubscribe URL: no cookies, no page, this body.
	m, err := testsupport.ParseMail(f.smtp.WaitFor(t, "otto@example.org", 1)[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post=%q", got)
	}
	target := strings.Trim(strings.SplitN(m.Header.Get("List-Unsubscribe"), ",", 2)[0], " <>")
	req, _ := http.NewRequest("POST", target, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1)")
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST to %s: %d", target, resp.StatusCode)
	}
	if s, _ := f.subs.Find(ctx, other.ID); s.Status != subscribers.StatusUnsubscribed {
		t.Fatalf("after one-click: %s", s.Status)
	}

	// 6. Rita changes her mind: resubscribe from the result page, then
	// pause for two weeks on the preferences page.
	err = chromedp.Do(bctx,
		chromedp.Click("#resubscribe"),
		chromedp.WaitVisible("#notice"),
		chromedp.SetValue("#pause", "2"),
		chromedp.Click("#save"),
		chromedp.WaitVisible("#paused"),
	)
	if err != nil {
		t.Fatalf("resubscribe and pause: %v", err)
	}
	shot("preferences-paused.png")
	s, _ := f.subs.Find(ctx, sub.ID)
	if s.Status != subscribers.StatusActive || !s.PausedUntil.Equal(f.clock.Now().Add(14*24*time.Hour)) || s.Timezone != "Asia/Tokyo" {
		t.Fatalf("after resubscribe and pause: %+v", s)
	}
}
