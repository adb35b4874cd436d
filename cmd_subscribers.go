package main

import (
	"context"
	"flag"
	"fmt"

	"bothsides/subscribers"
)

var cmdSubscribersAdd = &command{
	name:    "subscribers add",
	args:    "EMAIL",
	summary: "add an active subscriber",
	flags: func(fs *flag.FlagSet) {
		fs.String("name", "", "the subscriber's name, used in the greeting")
	},
	run: func(ctx context.Context, a *app, args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("%w: subscribers add takes one EMAIL", errUsage)
		}
		db, err := a.openDB(ctx)
		if err != nil {
			return err
		}
		sub, err := subscribers.NewStore(db).Add(ctx, args[0], a.flagString("name"))
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "added %s (id %d)\n", sub.Email, sub.ID)
		return nil
	},
}

var cmdSubscribersList = &command{
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
