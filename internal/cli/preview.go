package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"bothsides/digest"
)

func previewCommand() *command {
	var o struct {
		date, topics string
		text         bool
		sel          selection
	}
	return &command{
		name:    "preview",
		summary: "print an edition's HTML (or its plain text) without sending it",
		help: `Shows the stored edition for the date if it was already sent; otherwise
assembles one from the stories in its window without storing it.`,
		settings: append([]setting{
			stringSetting(&o.date, "date", "", "", "edition date YYYY-MM-DD (default today, window ending now)"),
			boolSetting(&o.text, "text", "", false, "print the plain-text part instead of the HTML"),
			stringSetting(&o.topics, "topics", "", "", "comma-separated favoured topics: show the edition as a reader who favours them gets it"),
		}, o.sel.settings()...),
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			p, err := a.editionParams(o.date, o.sel.Stories)
			if err != nil {
				return err
			}
			if err := o.sel.apply(&p); err != nil {
				return err
			}
			store := digest.NewStore(db)
			e, err := store.Edition(ctx, p.Date, p.Schedule)
			if errors.Is(err, digest.ErrNoEdition) {
				e, err = store.Assemble(ctx, p)
			}
			if err != nil {
				return err
			}
			e = e.Variant(topicsFlag(o.topics))
			rendered, err := a.render(e)
			if err != nil {
				return err
			}
			html, text := rendered.Personalize(digest.Personal{
				Name:           "Reader",
				Email:          "reader@example.com",
				UnsubscribeURL: a.cfg.BaseURL + "/unsubscribe/preview",
				PreferencesURL: a.cfg.BaseURL + "/preferences/preview",
			})
			if n := len(html); n >= digest.ClipBytes {
				fmt.Fprintf(a.stderr, "warning: the edition's HTML is %d bytes; Gmail clips messages over %d (try fewer --stories)\n", n, digest.ClipBytes)
			}
			if o.text {
				_, err = a.stdout.Write(text)
			} else {
				_, err = a.stdout.Write(html)
			}
			return err
		},
	}
}

// topicsFlag splits a comma-separated --topics value.
func topicsFlag(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
