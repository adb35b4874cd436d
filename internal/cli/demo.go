package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"bytes"

	"bothsides/digest"
	"bothsides/sample"
	"bothsides/subscribers"
)

// demoOptions are demo's flags: serve's, and its own.
type demoOptions struct {
	serveConfig
	DB    string
	Serve bool
}

func demoCommand() *command {
	var o demoOptions
	return &command{
		name:    "demo",
		summary: "try it: sample stories and subscribers, today's edition into ./outbox/, then serve the pages",
		help: `Creates a fresh demo database (bothsides-demo.db, separate from the default
one) with sample stories dated to today and three subscribers, sends today's
edition as .eml files into the outbox folder (no SMTP server needed unless
--smtp is given), then serves the pages on --addr and prints the URLs to open.
Stop it with Ctrl-C.`,
		settings: append(o.serveConfig.settings(),
			stringSetting(&o.DB, "demo-db", "", "bothsides-demo.db", "the demo database file, recreated on every run"),
			boolSetting(&o.Serve, "serve", "", true, "serve the pages after sending (-serve=false to exit)")),
		run: func(ctx context.Context, a *app, args []string) error { return runDemo(ctx, a, &o) },
	}
}

// demoAutoPublish is the demo's --auto-publish: three sources, any side.
const demoAutoPublish = "3,1"

// demoBuilt says what the newsroom built from the sample feeds.
func (a *app) demoBuilt(ctx context.Context, store *digest.Store) error {
	list, err := store.List(ctx, 1000)
	if err != nil {
		return err
	}
	var built, published, blind int
	for i := range list {
		st := &list[i]
		if len(st.Articles) == 0 || st.Articles[0].ItemID == 0 {
			continue // imported
		}
		built++
		if st.Published() {
			published++
		}
		if digest.DefaultBlindspotRule.For(st.Coverage()) != "" {
			blind++
		}
	}
	fmt.Fprintf(a.stdout, "the newsroom built %d stories from the feeds: %d published, %d drafts, %d blindspots (review them at /admin/stories)\n",
		built, published, built-published, blind)
	return nil
}

// demoSubscribers are the demo's readers.
var demoSubscribers = []struct{ email, name string }{
	{"ana@example.com", "Ana"},
	{"ben@example.org", "Ben"},
	{"chidi@example.net", ""},
}

func runDemo(ctx context.Context, a *app, o *demoOptions) error {
	demoDB := o.DB
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(demoDB + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	a.cfg.DB = demoDB
	db, err := a.openDB(ctx)
	if err != nil {
		return err
	}
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		return fmt.Errorf("sample stories: %w", err)
	}
	shiftToToday(stories, a.now())
	res, err := digest.NewStore(db).Import(ctx, stories)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "demo database %s: %s\n", demoDB, res)
	subs := subscribers.NewStore(db)
	for _, s := range demoSubscribers {
		if _, err := subs.Add(ctx, s.email, s.name); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "added %d subscribers\n", len(demoSubscribers))
	// The demo publishes what the newsroom builds from the sample feeds
	// once three outlets carry it, so that today's edition has them;
	// elsewhere editors publish by hand unless --auto-publish says so.
	if !a.flagGiven("auto-publish") && a.getenv("BOTHSIDES_AUTO_PUBLISH") == "" {
		a.cfg.AutoPublish = demoAutoPublish
	}
	if err := a.demoFeeds(ctx, db, o); err != nil {
		return err
	}
	if err := a.demoBuilt(ctx, digest.NewStore(db)); err != nil {
		return err
	}
	p, err := a.editionParams("", 0)
	if err != nil {
		return err
	}
	stats, err := a.sendEdition(ctx, p)
	if err != nil {
		return err
	}
	where := "SMTP"
	if a.cfg.SMTP == "" {
		where = a.cfg.Outbox + "/"
	}
	fmt.Fprintf(a.stdout, "sent edition %s: %d messages into %s\n", p.Date, stats.Sent, where)
	if !o.Serve {
		return nil
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return err
	}
	signer, err := a.signer(ctx, db)
	if err != nil {
		return err
	}
	first, err := subs.FindByEmail(ctx, demoSubscribers[0].email)
	if err != nil {
		return err
	}
	// The demo opens the admin console too, with a random password printed
	// below unless one is given: long enough for the console's minimum, and
	// known to no one else should --addr listen beyond loopback.
	a.adminPassword, o.AdminPassword = o.AdminPassword, ""
	a.metricsToken, o.MetricsToken = o.MetricsToken, ""
	shownPassword := "the one you set"
	if a.adminPassword == "" {
		a.adminPassword = rand.Text()
		shownPassword = a.adminPassword
	}
	if a.adminLimits, err = o.adminLimits(); err != nil {
		ln.Close()
		return err
	}
	if a.webhooks, err = o.Webhooks.providers(a.now, a.log); err != nil {
		ln.Close()
		return err
	}
	base := strings.TrimRight(a.cfg.BaseURL, "/")
	return a.serve(ctx, ln, "off", func() {
		fmt.Fprintln(a.stdout, "\nOpen:")
		fmt.Fprintf(a.stdout, "  today's edition   %s/editions/%s\n", base, p.Date)
		fmt.Fprintf(a.stdout, "  past editions     %s/editions\n", base)
		if len(stories) > 0 {
			e, err := digest.NewStore(db).Edition(ctx, p.Date, p.Schedule)
			if err == nil && len(e.Stories) > 0 {
				fmt.Fprintf(a.stdout, "  top story         %s/stories/%s\n", base, e.Stories[0].ID)
			}
		}
		fmt.Fprintf(a.stdout, "  unsubscribe (Ana) %s/unsubscribe/%s\n", base, signer.Token(subscribers.PurposeUnsubscribe, first.ID, time.Time{}))
		fmt.Fprintf(a.stdout, "  preferences (Ana) %s/preferences/%s\n", base, signer.Token(subscribers.PurposePreferences, first.ID, time.Time{}))
		fmt.Fprintf(a.stdout, "  sign up           %s/subscribe (the confirmation mail goes to %s)\n", base, where)
		fmt.Fprintf(a.stdout, "  admin console     %s/admin (password: %s)\n", base, shownPassword)
		fmt.Fprintf(a.stdout, "The mails are in %s; press Ctrl-C to stop.\n", where)
	})
}

// shiftToToday moves every time in stories by one offset so that the newest
// story was published half an hour before now.
func shiftToToday(stories []digest.Story, now time.Time) {
	var newest time.Time
	for _, s := range stories {
		if s.PublishedAt.After(newest) {
			newest = s.PublishedAt
		}
	}
	d := now.Add(-30 * time.Minute).Sub(newest).Truncate(time.Minute)
	shift := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(d)
	}
	for i := range stories {
		s := &stories[i]
		s.PublishedAt = shift(s.PublishedAt)
		s.UpdatedAt = shift(s.UpdatedAt)
		for j := range s.Articles {
			s.Articles[j].PublishedAt = shift(s.Articles[j].PublishedAt)
		}
	}
}
