package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"bothsides/digest"
)

func storiesImportCommand() *command {
	return &command{
		name:    "stories import",
		args:    "FILE",
		summary: "import stories from a JSON file ('-' reads standard input)",
		help: `The file is one transaction: if any story is invalid nothing is imported,
every problem is printed on its own line and the exit status is 1. A story
whose id exists is replaced with its articles and FAQ. See docs/IMPORT.md
for the format.`,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: stories import takes one FILE (or - for standard input)", errUsage)
			}
			var r io.Reader = a.stdin
			name := "standard input"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r, name = f, args[0]
			}
			stories, err := digest.ParseImport(r)
			var ie *digest.ImportError
			if errors.As(err, &ie) {
				fmt.Fprintf(a.stderr, "%s: nothing imported, %d problem(s):\n", name, len(ie.Problems))
				for _, p := range ie.Problems {
					fmt.Fprintln(a.stderr, p.String())
				}
				return errQuiet
			}
			if err != nil {
				return err
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			res, err := digest.NewStore(db).Import(ctx, stories)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, res.String())
			return nil
		},
	}
}

func storiesListCommand() *command {
	var (
		n      int
		asJSON bool
		status string
	)
	return &command{
		name:    "stories list",
		summary: "list the most recent stories, drafts and published, with their coverage",
		help: `Each line: time, id, status, coverage (left, center, right, and unrated
sources, which are on no side), a B when the story is a blindspot, the
title. --json prints an array of stories with their articles instead.`,
		settings: []setting{intSetting(&n, "n", "", 50, "how many stories"),
			boolSetting(&asJSON, "json", "", false, "print a JSON array of stories: `id`, `title`, `status`, `coverage`, `blindspot`, `articles`"),
			stringSetting(&status, "status", "", "", "only stories of this status: `draft` or `published`")},
		run: func(ctx context.Context, a *app, args []string) error {
			if status != "" && status != string(digest.StatusDraft) && status != string(digest.StatusPublished) {
				return fmt.Errorf("%w: --status %q: want draft or published", errUsage, status)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			list, err := digest.NewStore(db).List(ctx, n)
			if err != nil {
				return err
			}
			out := []digest.Listing{}
			for _, st := range list {
				l := st.List(digest.DefaultBlindspotRule)
				if status == "" || string(l.Status) == status {
					out = append(out, l)
				}
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, l := range out {
				c := l.Coverage
				blind := ""
				if l.Blindspot {
					blind = "B"
				}
				fmt.Fprintf(a.stdout, "%s\t%s\t%s\tL%d C%d R%d U%d\t%s\t%s\n", l.PublishedAt[:16], l.ID, l.Status,
					c.Left, c.Center, c.Right, c.Unrated, blind, l.Title)
			}
			return nil
		},
	}
}
