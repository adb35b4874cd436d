package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"bothsides/digest"
)

func reportsListCommand() *command {
	var all bool
	return &command{
		name:     "reports list",
		summary:  "list the problems readers reported about stories (open ones unless --all)",
		settings: []setting{boolSetting(&all, "all", "", false, "include resolved reports")},
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			list, err := digest.NewStore(db).Reports(ctx, all, 500)
			if err != nil {
				return err
			}
			for _, r := range list {
				state := "open"
				if !r.ResolvedAt.IsZero() {
					state = "resolved " + r.ResolvedAt.Format("2006-01-02 15:04")
				}
				email := r.Email
				if email == "" {
					email = "-"
				}
				fmt.Fprintf(a.stdout, "#%d\t%s\t%s v%d\t%s\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Format("2006-01-02 15:04"),
					r.StoryID, r.Version, r.Kind, state, email, strings.ReplaceAll(r.Message, "\n", " "))
			}
			return nil
		},
	}
}

func reportsResolveCommand() *command {
	return &command{
		name:    "reports resolve",
		args:    "ID",
		summary: "mark a reader's report resolved",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: reports resolve takes one report ID", errUsage)
			}
			id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil {
				return fmt.Errorf("%w: report ID %q is not a number", errUsage, args[0])
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			if err := digest.NewStore(db).ResolveReport(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "report #%d resolved\n", id)
			return nil
		},
	}
}
