package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"bothsides/bounce"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// bounceAddress returns the --bounce-address setting checked, or "".
func (a *app) bounceAddress() (string, error) {
	if a.cfg.BounceAddress == "" {
		return "", nil
	}
	addr, err := bounce.ParseAddress(a.cfg.BounceAddress)
	if err != nil {
		return "", fmt.Errorf("%w: --bounce-address: %v", errUsage, err)
	}
	return addr.String(), nil
}

// checkBounceSettings refuses bad bounce settings before any command runs,
// so that a send does not start with a bounce address it cannot use.
func (a *app) checkBounceSettings() error {
	if _, err := a.bounceAddress(); err != nil {
		return err
	}
	if a.cfg.SoftBounceLimit < 1 {
		return fmt.Errorf("%w: --soft-bounce-limit %d: want 1 or more", errUsage, a.cfg.SoftBounceLimit)
	}
	if a.cfg.SoftBounceWindow < time.Hour {
		return fmt.Errorf("%w: --soft-bounce-window %s: want 1h or more", errUsage, a.cfg.SoftBounceWindow)
	}
	return nil
}

// bounceStore wires the bounce store: the link signer verifies delivery
// tokens; the limits are --bounce-limit, --soft-bounce-limit and
// --soft-bounce-window.
func (a *app) bounceStore(ctx context.Context, db *sqlite.DB) (*bounce.Store, error) {
	if err := a.checkBounceSettings(); err != nil {
		return nil, err
	}
	signer, err := a.signer(ctx, db)
	if err != nil {
		return nil, err
	}
	return bounce.New(db, bounce.Config{
		Signer:      signer,
		BounceLimit: a.cfg.BounceLimit,
		SoftLimit:   a.cfg.SoftBounceLimit,
		SoftWindow:  a.cfg.SoftBounceWindow,
		Logger:      a.log,
	}), nil
}

func bouncesListCommand() *command {
	var date, schedule, email, kind string
	var limit int
	var asJSON bool
	return &command{
		name:    "bounces list",
		summary: "list bounces, complaints and auto-replies as they came back",
		help: `One line per event, newest first, tab-separated: when it arrived, kind
(hard, soft, complaint, autoreply, delivered, feedback, unparsed), status code,
the edition, the subscriber it matched (or "unmatched"), the recipient the
report names, its source, the effect on the subscriber, and the diagnostic.`,
		settings: []setting{
			stringSetting(&date, "edition", "", "", "only the events of the edition of this date (`YYYY-MM-DD`)"),
			editionScheduleSetting(&schedule),
			stringSetting(&email, "subscriber", "", "", "only the events naming this address"),
			stringSetting(&kind, "kind", "", "", "only events of this kind"),
			intSetting(&limit, "limit", "", 100, "at most this many events (up to 1000)"),
			boolSetting(&asJSON, "json", "", false, "print JSON instead of text"),
		},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 0 {
				return fmt.Errorf("%w: bounces list takes no arguments", errUsage)
			}
			f := bounce.Filter{Kind: bounce.Kind(kind), Limit: limit, Recipient: email}
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("%w: --limit %d: want 1 to 1000", errUsage, limit)
			}
			if email != "" {
				if _, err := subscribers.NormalizeAddress(email); err != nil {
					return fmt.Errorf("%w: --subscriber %q: not an address: %v", errUsage, email, err)
				}
			}
			if kind != "" && !slices.Contains(bounce.Kinds, f.Kind) {
				return fmt.Errorf("%w: --kind %q: want hard, soft, complaint, autoreply, delivered, feedback or unparsed", errUsage, kind)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			if date != "" {
				_, e, err := a.editionArg(ctx, "bounces list --edition", []string{date}, schedule)
				if err != nil {
					return err
				}
				f.Edition = e.ID
			}
			if email != "" {
				// The subscriber's own events too, whatever address the
				// report named (a forwarding address).
				if s, err := subscribers.NewStore(db).FindByEmail(ctx, email); err == nil {
					f.Subscriber = s.ID
				}
			}
			list, err := bounce.List(ctx, db.R, f)
			if err != nil {
				return err
			}
			if asJSON {
				return writeBouncesJSON(a.stdout, list)
			}
			writeBounces(a.stdout, list)
			return nil
		},
	}
}

func writeBounces(w io.Writer, list []bounce.Record) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", timeText(r.ReceivedAt), r.Kind, orDash(r.Status),
			editionText(r), subscriberText(r), orDash(r.Recipient), r.Source, orDash(r.Effect), r.Diagnostic)
	}
}

func editionText(r bounce.Record) string {
	if r.Edition == 0 {
		return "-"
	}
	return r.Date + " " + r.Schedule
}

func subscriberText(r bounce.Record) string {
	if r.Subscriber == 0 {
		return "unmatched"
	}
	return r.Email
}

func writeBouncesJSON(w io.Writer, list []bounce.Record) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(bounce.JSON(list))
}
