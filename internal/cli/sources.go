package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"bothsides/feeds"
)

// sourceOptions are the flags of sources add and sources edit.
type sourceOptions struct {
	Name, Domain, Bias, Factuality, Owner, RatedBy, RatedOn string
	Feeds                                                   []string
	NoFeeds                                                 bool
}

func (o *sourceOptions) settings(edit bool) []setting {
	s := []setting{
		stringSetting(&o.Domain, "domain", "", "", "the outlet's domain, e.g. example.com"),
		stringSetting(&o.Bias, "bias", "", "", "the outlet's rating: "+feeds.BiasChoices),
		stringsSetting(&o.Feeds, "feed", "a feed URL (RSS, Atom or JSON Feed); repeat for several"+map[bool]string{true: "; replaces the list", false: ""}[edit]),
		stringSetting(&o.Factuality, "factuality", "", "", "the outlet's factuality: "+feeds.FactualityChoices),
		stringSetting(&o.Owner, "owner", "", "", "who owns the outlet"),
		stringSetting(&o.RatedBy, "rated-by", "", "", "who rated it (with --rated-on)"),
		stringSetting(&o.RatedOn, "rated-on", "", "", "when it was rated, YYYY-MM-DD (with --rated-by)"),
	}
	if edit {
		s = append([]setting{stringSetting(&o.Name, "name", "", "", "rename the source")},
			append(s, boolSetting(&o.NoFeeds, "no-feeds", "", false, "remove every feed"))...)
	}
	return s
}

func (a *app) feedStore(ctx context.Context) (*feeds.Store, error) {
	db, err := a.openDB(ctx)
	if err != nil {
		return nil, err
	}
	return feeds.NewStore(db), nil
}

func sourcesAddCommand() *command {
	var o sourceOptions
	return &command{
		name:    "sources add",
		args:    "NAME",
		summary: "add an outlet with its bias rating and feeds",
		help: `NAME is how readers see the outlet (unique, case-insensitive). --domain and
--bias are required; a source nobody has rated is --bias unrated: its
articles count in a story's articles but not in its left/center/right split.
Each --feed is fetched by ingest and serve.`,
		settings: o.settings(false),
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: sources add takes one NAME (quote a name with spaces)", errUsage)
			}
			st, err := a.feedStore(ctx)
			if err != nil {
				return err
			}
			s := feeds.Source{Name: args[0], Domain: o.Domain, Bias: o.Bias, Factuality: o.Factuality,
				Owner: o.Owner, RatedBy: o.RatedBy, RatedOn: o.RatedOn}
			for _, u := range o.Feeds {
				s.Feeds = append(s.Feeds, feeds.Feed{URL: u})
			}
			added, err := st.Add(ctx, s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "added %s (%s, %s) with %d feeds\n", added.Name, added.Domain, added.Bias, len(added.Feeds))
			return nil
		},
	}
}

func sourcesListCommand() *command {
	return &command{
		name:    "sources list",
		summary: "list the sources with their ratings and each feed's last fetch, success, error and items",
		help: `One line per source, tab-separated: name, bias, domain, factuality, owner,
rated by and on. Under it one line per feed: its URL, when it was last
fetched, last fetched successfully, how many items were stored from it, the
last error (with the failures in a row) and, when it is backing off, the time
before which it is not fetched.`,
		run: func(ctx context.Context, a *app, args []string) error {
			st, err := a.feedStore(ctx)
			if err != nil {
				return err
			}
			list, err := st.List(ctx)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stdout, "no sources; add one with 'bothsides sources add NAME --domain D --bias B --feed URL'")
				return nil
			}
			now := a.now()
			for _, s := range list {
				rated := ""
				if s.RatedBy != "" {
					rated = "rated by " + s.RatedBy + " on " + s.RatedOn
				}
				fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Bias, s.Domain, dash(s.Factuality), dash(s.Owner), dash(rated))
				for _, f := range s.Feeds {
					fmt.Fprintf(a.stdout, "  %s\t%s\n", f.URL, feedStatus(f, now))
				}
			}
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sourcesEditCommand() *command {
	var o sourceOptions
	return &command{
		name:     "sources edit",
		args:     "NAME",
		summary:  "change a source: only the flags given change; --feed replaces its feeds",
		help:     `Feeds kept keep their fetch state (validators, errors, counts); a feed dropped loses it, its articles stay.`,
		settings: o.settings(true),
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: sources edit takes one NAME", errUsage)
			}
			st, err := a.feedStore(ctx)
			if err != nil {
				return err
			}
			s, err := st.Get(ctx, args[0])
			if err != nil {
				return err
			}
			set := func(flag string, dst *string, v string) {
				if a.flagGiven(flag) {
					*dst = v
				}
			}
			set("name", &s.Name, o.Name)
			set("domain", &s.Domain, o.Domain)
			set("bias", &s.Bias, o.Bias)
			set("factuality", &s.Factuality, o.Factuality)
			set("owner", &s.Owner, o.Owner)
			set("rated-by", &s.RatedBy, o.RatedBy)
			set("rated-on", &s.RatedOn, o.RatedOn)
			if o.NoFeeds && len(o.Feeds) > 0 {
				return fmt.Errorf("%w: --no-feeds and --feed together", errUsage)
			}
			if o.NoFeeds {
				s.Feeds = nil
			}
			if len(o.Feeds) > 0 {
				s.Feeds = nil
				for _, u := range o.Feeds {
					s.Feeds = append(s.Feeds, feeds.Feed{URL: u})
				}
			}
			got, err := st.Update(ctx, args[0], *s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "saved %s (%s, %s) with %d feeds\n", got.Name, got.Domain, got.Bias, len(got.Feeds))
			return nil
		},
	}
}

func sourcesRmCommand() *command {
	return &command{
		name:    "sources rm",
		args:    "NAME",
		summary: "remove a source with its feeds and stored articles",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: sources rm takes one NAME", errUsage)
			}
			st, err := a.feedStore(ctx)
			if err != nil {
				return err
			}
			if err := st.Remove(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed %s\n", args[0])
			return nil
		},
	}
}

func sourcesImportCommand() *command {
	return &command{
		name:    "sources import",
		args:    "FILE.csv",
		summary: "add or update sources from CSV (" + strings.Join(feeds.CSVColumns, ",") + ")",
		help: `The first row names the columns, in any order: name, domain and bias are
required; feeds holds the feed URLs separated by ";". A source whose name
exists is updated (its feeds replaced, those kept keep their fetch state;
a column the file leaves out keeps its value); others are added. The file is one transaction: a bad row (reported with its
line number), a feed that belongs to another source or any other error
imports nothing. "-" reads stdin.`,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: sources import takes one FILE.csv (or - for stdin)", errUsage)
			}
			var r io.Reader = a.stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			list, columns, err := feeds.ReadCSV(r)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			st, err := a.feedStore(ctx)
			if err != nil {
				return err
			}
			res, err := st.Import(ctx, list, columns...)
			if err != nil {
				return fmt.Errorf("%s: %w; nothing was imported", args[0], err)
			}
			fmt.Fprintln(a.stdout, res)
			return nil
		},
	}
}

func sourcesExportCommand() *command {
	return &command{
		name:    "sources export",
		summary: "write every source as CSV to stdout, in the format sources import reads",
		run: func(ctx context.Context, a *app, args []string) error {
			st, err := a.feedStore(ctx)
			if err != nil {
				return err
			}
			list, err := st.List(ctx)
			if err != nil {
				return err
			}
			return feeds.WriteCSV(a.stdout, list)
		},
	}
}
