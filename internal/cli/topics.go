package cli

import (
	"context"
	"fmt"

	"bothsides/newsroom"
)

func topicsListCommand() *command {
	return &command{
		name:    "topics list",
		summary: "list how feed categories map to topics",
		help: `Drafted stories take the topics their articles' feed categories map to
(at most three, the most frequent categories first); a category with no
mapping gives no topic. The table starts with a default mapping.`,
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			list, err := newsroom.NewTopics(db).List(ctx)
			if err != nil {
				return err
			}
			for _, m := range list {
				fmt.Fprintf(a.stdout, "%s\t%s\n", m.Category, m.Topic)
			}
			return nil
		},
	}
}

func topicsMapCommand() *command {
	return &command{
		name:    "topics map",
		args:    "CATEGORY TOPIC",
		summary: "map a feed category (any case) to a topic; drafts from now on take it",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%w: topics map takes a CATEGORY and a TOPIC (quote them if they have spaces)", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			if err := newsroom.NewTopics(db).Map(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "category %q maps to topic %q\n", args[0], args[1])
			return nil
		},
	}
}

func topicsUnmapCommand() *command {
	return &command{
		name:    "topics unmap",
		args:    "CATEGORY",
		summary: "remove a feed category's mapping",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: topics unmap takes one CATEGORY", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			if err := newsroom.NewTopics(db).Unmap(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "category %q no longer maps to a topic\n", args[0])
			return nil
		},
	}
}
