package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"bothsides/bounce"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

func subscribersAddCommand() *command {
	var name string
	return &command{
		name:     "subscribers add",
		args:     "EMAIL",
		summary:  "add an active subscriber",
		settings: []setting{stringSetting(&name, "name", "", "", "the subscriber's name, used in the greeting")},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: subscribers add takes one EMAIL", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			sub, err := subscribers.NewStore(db).Add(ctx, args[0], name)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "added %s (id %d)\n", sub.Email, sub.ID)
			return nil
		},
	}
}

func subscribersListCommand() *command {
	return &command{
		name:    "subscribers list",
		summary: "list subscribers: address, name and status, tab-separated",
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			list, err := subscribers.NewStore(db).List(ctx)
			if err != nil {
				return err
			}
			for _, s := range list {
				fmt.Fprintln(a.stdout, s.Display())
			}
			return nil
		},
	}
}

func subscribersImportCommand() *command {
	var strict, resubscribe bool
	return &command{
		name:    "subscribers import",
		args:    "FILE.csv",
		summary: "import subscribers from CSV (email,name,timezone,topics with a header row)",
		help: `The first row names the columns: email (required), name, timezone (an IANA
name such as Europe/Paris), topics (separated by ";"), in any order. Imported
addresses become active subscribers: importing attests that they agreed.
Existing subscribers get the row's non-empty values; unsubscribed and bounced
ones stay so unless --resubscribe is given; complained ones always stay, and
erased addresses (on the suppression list) are skipped.

Bad rows are reported on stderr with their line numbers and reasons. By
default the valid rows are imported, 1,000 to a transaction so that a running
server is not held up, and a summary printed; with --strict nothing is
imported unless every row is valid, and the file is one transaction. The exit status is 1 when
nothing could be imported because of bad rows. "-" reads stdin.`,
		settings: []setting{
			boolSetting(&strict, "strict", "", false, "all or nothing: import nothing if any row is bad"),
			boolSetting(&resubscribe, "resubscribe", "", false, "make imported addresses that were unsubscribed or bounced active again"),
		},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: subscribers import takes one FILE.csv", errUsage)
			}
			name := args[0]
			var r io.Reader = a.stdin
			if name != "-" {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else {
				name = "stdin"
			}
			rows, bad, err := subscribers.ParseCSV(r)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for _, b := range bad {
				fmt.Fprintf(a.stderr, "%s: %s\n", name, b)
			}
			if len(bad) > 0 && (strict || len(rows) == 0) {
				fmt.Fprintf(a.stderr, "%s: nothing imported, %d bad row(s)\n", name, len(bad))
				return errQuiet
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			res, err := subscribers.NewStore(db).Import(ctx, rows, subscribers.ImportOptions{Resubscribe: resubscribe, Batch: importBatch(strict)})
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintf(a.stderr, "%s: %s\n", name, n)
			}
			fmt.Fprintf(a.stdout, "%s: %d rows: %d added, %d updated, %d resubscribed, %d unchanged, %d left inactive, %d erased skipped, %d bad\n",
				name, len(rows)+len(bad), res.Added, res.Updated, res.Reactivated, res.Unchanged, res.KeptInactive, res.Suppressed, len(bad))
			return nil
		},
	}
}

// importBatch is the rows per transaction: a running server waits for the
// write lock at most that long (under 0.1 s per 1,000 rows); --strict writes
// the whole file in one.
func importBatch(strict bool) int {
	if strict {
		return 0
	}
	return 1000
}

func subscribersExportCommand() *command {
	var status string
	return &command{
		name:    "subscribers export",
		summary: "write every subscriber as CSV to stdout (imports back with subscribers import)",
		help: `Columns: ` + strings.Join(subscribers.ExportColumns, ",") + `. The first four
are the import columns. Times are UTC; cells a spreadsheet would run as a
formula start with a ' (import strips it).`,
		settings: []setting{stringSetting(&status, "status", "", "", "only subscribers with this status (pending, active, unsubscribed, bounced, complained)")},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 0 {
				return fmt.Errorf("%w: subscribers export takes no arguments", errUsage)
			}
			st := subscribers.Status(status)
			if st != "" && !st.Valid() {
				return fmt.Errorf("%w: --status %q is not one of pending, active, unsubscribed, bounced, complained", errUsage, st)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			_, err = subscribers.NewStore(db).Export(ctx, a.stdout, subscribers.SearchParams{Status: st})
			return err
		},
	}
}

func subscribersRemoveCommand() *command {
	return &command{
		name:    "subscribers remove",
		args:    "EMAIL",
		summary: "erase a subscriber (GDPR): delete their data, suppress the address for good",
		help: `Deletes the subscriber and every record of mail sent to them, and puts a
one-way hash of the address on the suppression list: no later import, add or
sign-up will mail it again. The address itself is not kept. Works for an
address that is not a subscriber too (it is suppressed all the same).`,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: subscribers remove takes one EMAIL", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			res, err := subscribers.NewStore(db).Erase(ctx, args[0])
			if err != nil {
				return err
			}
			// The subscriber's bounce events went with them; the unmatched
			// ones that name the address go now.
			bs, err := a.bounceStore(ctx, db)
			if err != nil {
				return err
			}
			events, err := bs.EraseAddress(ctx, res.Email)
			if err != nil {
				return err
			}
			if events > 0 {
				fmt.Fprintf(a.stdout, "%d bounce event(s) deleted\n", events)
			}
			switch {
			case res.Deleted > 0:
				fmt.Fprintf(a.stdout, "erased %s: subscriber and %d delivery record(s) deleted, %d story report(s) lose the address; the address is on the suppression list\n", res.Email, res.Deliveries, res.Reports)
			case res.WasListed:
				fmt.Fprintf(a.stdout, "%s is not a subscriber (%d story report(s) lose the address); it was already on the suppression list\n", res.Email, res.Reports)
			default:
				fmt.Fprintf(a.stdout, "%s is not a subscriber (%d story report(s) lose the address); added to the suppression list so it is never mailed\n", res.Email, res.Reports)
			}
			return nil
		},
	}
}

func subscribersShowCommand() *command {
	var asJSON bool
	return &command{
		name:     "subscribers show",
		args:     "EMAIL",
		summary:  "show everything held about an address (GDPR access)",
		settings: []setting{boolSetting(&asJSON, "json", "", false, "print JSON instead of text")},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: subscribers show takes one EMAIL", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			pd, err := subscribers.NewStore(db).Access(ctx, args[0])
			if err != nil {
				return err
			}
			events, err := accessBounces(ctx, db, pd)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(accessJSON(pd, events))
			}
			writeAccess(a.stdout, pd, events)
			return nil
		},
	}
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func writeAccess(w io.Writer, pd *subscribers.PersonalData, events []bounce.Record) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "address:\t%s\n", pd.Email)
	fmt.Fprintf(tw, "suppression list:\t%s\n", map[bool]string{true: "yes (erased; never mailed again)", false: "no"}[pd.Suppressed])
	fmt.Fprintf(tw, "story reports:\t%d\n", len(pd.Reports))
	for _, r := range pd.Reports {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%q\n", timeText(r.CreatedAt), r.StoryID, r.Kind, r.Message)
	}
	fmt.Fprintf(tw, "bounce events:\t%d\n", len(events))
	for _, r := range events {
		fmt.Fprintf(tw, "  %s\t%s %s\t%s\t%s\t%s\t%s\n", timeText(r.ReceivedAt), r.Kind, orDash(r.Status), editionText(r),
			orDash(r.Recipient), orDash(r.Effect), r.Diagnostic)
	}
	s := pd.Subscriber
	if s == nil {
		fmt.Fprintf(tw, "subscriber:\tnone: no subscriber data is held\n")
		return
	}
	hour := "schedule's"
	if s.PreferredHour != subscribers.NoPreferredHour {
		hour = strconv.Itoa(s.PreferredHour) + ":00"
	}
	for _, kv := range [][2]string{
		{"id", strconv.FormatInt(s.ID, 10)},
		{"stored address", s.Email},
		{"name", orDash(s.Name)},
		{"status", string(s.Status)},
		{"time zone", orDash(s.Timezone)},
		{"preferred hour", hour},
		{"topics", orDash(strings.Join(s.Topics, "; "))},
		{"paused until", timeText(s.PausedUntil)},
		{"bounces", strconv.Itoa(s.Bounces)},
		{"source", s.Source},
		{"created", timeText(s.CreatedAt)},
		{"updated", timeText(s.UpdatedAt)},
		{"confirmed", timeText(s.ConfirmedAt)},
		{"confirmation sent", timeText(s.ConfirmSentAt)},
		{"unsubscribed", timeText(s.UnsubscribedAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	fmt.Fprintf(tw, "deliveries:\t%d\n", len(pd.Deliveries))
	for _, d := range pd.Deliveries {
		fmt.Fprintf(tw, "  %s %s\t%s\tattempts %d\tsent %s\t<%s>\t%s\n", d.EditionDate, d.Schedule, d.Status, d.Attempts,
			timeText(d.SentAt), d.MessageID, d.LastReply)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// accessBounces returns the bounce events held on the address: the
// subscriber's and those that name the address unmatched.
func accessBounces(ctx context.Context, db *sqlite.DB, pd *subscribers.PersonalData) ([]bounce.Record, error) {
	f := bounce.Filter{Recipient: pd.Email, Limit: 1000}
	if pd.Subscriber != nil {
		f.Subscriber = pd.Subscriber.ID
	}
	// All of them, a page at a time: access means everything held.
	var all []bounce.Record
	for {
		page, err := bounce.List(ctx, db.R, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < f.Limit {
			return all, nil
		}
		f.Before = page[len(page)-1].ID
	}
}

func accessJSON(pd *subscribers.PersonalData, events []bounce.Record) any {
	type delivery struct {
		Edition   string `json:"edition"`
		Schedule  string `json:"schedule"`
		Status    string `json:"status"`
		Attempts  int    `json:"attempts"`
		SentAt    string `json:"sent_at,omitempty"`
		MessageID string `json:"message_id,omitempty"`
		LastReply string `json:"last_reply,omitempty"`
	}
	type subscriber struct {
		ID             int64    `json:"id"`
		Email          string   `json:"email"`
		Name           string   `json:"name"`
		Status         string   `json:"status"`
		Timezone       string   `json:"timezone"`
		PreferredHour  *int     `json:"preferred_hour"`
		Topics         []string `json:"topics"`
		PausedUntil    string   `json:"paused_until,omitempty"`
		Bounces        int      `json:"bounces"`
		Source         string   `json:"source"`
		CreatedAt      string   `json:"created_at"`
		UpdatedAt      string   `json:"updated_at"`
		ConfirmedAt    string   `json:"confirmed_at,omitempty"`
		ConfirmSentAt  string   `json:"confirmation_sent_at,omitempty"`
		UnsubscribedAt string   `json:"unsubscribed_at,omitempty"`
	}
	type report struct {
		Story     string `json:"story"`
		Kind      string `json:"kind"`
		Message   string `json:"message"`
		CreatedAt string `json:"created_at"`
	}
	out := struct {
		Email      string              `json:"email"`
		Suppressed bool                `json:"suppressed"`
		Subscriber *subscriber         `json:"subscriber"`
		Deliveries []delivery          `json:"deliveries"`
		Reports    []report            `json:"story_reports"`
		Bounces    []bounce.RecordJSON `json:"bounce_events"`
	}{Email: pd.Email, Suppressed: pd.Suppressed, Deliveries: []delivery{}, Reports: []report{}, Bounces: bounce.JSON(events)}
	opt := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	if s := pd.Subscriber; s != nil {
		js := &subscriber{ID: s.ID, Email: s.Email, Name: s.Name, Status: string(s.Status), Timezone: s.Timezone,
			Topics: s.Topics, PausedUntil: opt(s.PausedUntil), Bounces: s.Bounces, Source: s.Source,
			CreatedAt: opt(s.CreatedAt), UpdatedAt: opt(s.UpdatedAt), ConfirmedAt: opt(s.ConfirmedAt),
			ConfirmSentAt: opt(s.ConfirmSentAt), UnsubscribedAt: opt(s.UnsubscribedAt)}
		if s.PreferredHour != subscribers.NoPreferredHour {
			h := s.PreferredHour
			js.PreferredHour = &h
		}
		out.Subscriber = js
	}
	for _, r := range pd.Reports {
		out.Reports = append(out.Reports, report{Story: r.StoryID, Kind: r.Kind, Message: r.Message, CreatedAt: opt(r.CreatedAt)})
	}
	for _, d := range pd.Deliveries {
		out.Deliveries = append(out.Deliveries, delivery{Edition: d.EditionDate, Schedule: d.Schedule, Status: d.Status,
			Attempts: d.Attempts, SentAt: opt(d.SentAt), MessageID: d.MessageID, LastReply: d.LastReply})
	}
	return out
}
