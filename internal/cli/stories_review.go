package cli

import (
	"context"
	"fmt"
	"strings"

	"bothsides/digest"
)

// storyStatusCommand is stories publish and stories unpublish.
func storyStatusCommand(name string, status digest.StoryStatus, summary, help string) *command {
	return &command{
		name:    "stories " + name,
		args:    "ID",
		summary: summary,
		help:    help,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: stories %s takes one story ID", errUsage, name)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			st, err := digest.NewStore(db).SetStatus(ctx, args[0], status, digest.ByEditor)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: %s (version %d)\n", st.ID, status, st.Version)
			return nil
		},
	}
}

func storiesMergeCommand() *command {
	return &command{
		name:    "stories merge",
		args:    "ID OTHER",
		summary: "merge story OTHER into story ID: its articles join ID and OTHER is removed",
		help: `ID keeps its text (the fields still as drafted are drafted again from the
articles); OTHER is deleted, which is refused when editions carried it:
merge the other way round then.`,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%w: stories merge takes two story IDs", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			st, err := digest.NewStore(db).Merge(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if err := a.redraft(ctx, st.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "merged %s into %s: %d articles\n", args[1], st.ID, len(st.Articles))
			return nil
		},
	}
}

func storiesMoveCommand() *command {
	var to string
	return &command{
		name:     "stories move",
		args:     "ID URL...",
		summary:  "move articles (by URL) from story ID to the story --to names",
		help:     `A story left with no article is removed (refused when editions carried it).`,
		settings: []setting{stringSetting(&to, "to", "", "", "the story the articles join (required)")},
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) < 2 || to == "" {
				return fmt.Errorf("%w: stories move takes a story ID, one or more article URLs and --to ID", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			st, err := digest.NewStore(db).MoveArticles(ctx, args[0], args[1:], to)
			if err != nil {
				return err
			}
			if err := a.redraft(ctx, args[0], st.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "moved %d article(s) from %s to %s\n", len(args)-1, args[0], st.ID)
			return nil
		},
	}
}

func storiesSplitCommand() *command {
	return &command{
		name:    "stories split",
		args:    "ID URL...",
		summary: "split articles (by URL) out of story ID into a new draft story",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("%w: stories split takes a story ID and one or more article URLs", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			st, err := digest.NewStore(db).Split(ctx, args[0], args[1:])
			if err != nil {
				return err
			}
			if err := a.redraft(ctx, args[0], st.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "split %d article(s) out of %s into the draft %s\n", len(st.Articles), args[0], st.ID)
			return nil
		},
	}
}

// storiesShowCommand prints one story with each article's join reason.
func storiesShowCommand() *command {
	return &command{
		name:    "stories show",
		args:    "ID",
		summary: "show a story: status, drafted fields, coverage and why each article joined",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: stories show takes one story ID", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			st, err := digest.NewStore(db).Story(ctx, args[0])
			if err != nil {
				return err
			}
			l := st.List(digest.DefaultBlindspotRule)
			c := l.Coverage
			fmt.Fprintf(a.stdout, "%s (%s, version %d)\n%s\n\n%s\n", st.ID, l.Status, st.Version, st.Title, st.Summary)
			fmt.Fprintf(a.stdout, "coverage: left %d, center %d, right %d, unrated %d", c.Left, c.Center, c.Right, c.Unrated)
			if l.Blindspot {
				fmt.Fprintf(a.stdout, " (blindspot for the %s)", l.BlindspotFor)
			}
			fmt.Fprintln(a.stdout)
			if len(st.Drafted) > 0 {
				fmt.Fprintf(a.stdout, "drafted: %s\n", strings.Join(st.Drafted, ", "))
			}
			for _, art := range st.Articles {
				fmt.Fprintf(a.stdout, "- %s (%s) %s\n  %s\n", art.Source, art.Bias.Label(), art.URL, art.Join.Reason())
			}
			return nil
		},
	}
}
