package cli

import (
	"context"
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
	var n int
	return &command{
		name:     "stories list",
		summary:  "list the most recent stories with their coverage",
		settings: []setting{intSetting(&n, "n", "", 50, "how many stories")},
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			list, err := digest.NewStore(db).List(ctx, n)
			if err != nil {
				return err
			}
			for _, st := range list {
				c := st.Coverage()
				fmt.Fprintf(a.stdout, "%s\t%s\tL%d C%d R%d\t%s\n", st.PublishedAt.Format("2006-01-02 15:04"), st.ID, c.Left, c.Center, c.Right, st.Title)
			}
			return nil
		},
	}
}
