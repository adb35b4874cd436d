package cli

import (
	"context"
	"fmt"
	"strconv"

	"bothsides/sqlite"
	"bothsides/subscribers"
)

func secretRotateCommand() *command {
	return &command{
		name:    "secret rotate",
		summary: "add a new link-signing key; the older keys keep verifying the links already mailed",
		help: `Adds a random token key, one id above the highest ever used, stored in the
database's settings. From then on every new link (unsubscribe, preferences,
confirmation) is signed with it and carries its id; links signed by the
older keys keep working until they expire (unsubscribe 90 days after the
mail, preferences 30) or the key is retired. A running serve verifies the
new key's links at once and signs with the new key after a restart. Retire
the old key with "secret retire ID" once its links have expired: 90 days
after the rotation, or at once after a leak (its links stop working).`,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 0 {
				return fmt.Errorf("%w: secret rotate takes no arguments", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			id, err := subscribers.RotateKey(ctx, db)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "token key %d added and signing; older keys verify only (retire them with \"secret retire ID\" after 90 days)\n", id)
			return printKeys(ctx, a, db)
		},
	}
}

func secretListCommand() *command {
	return &command{
		name:    "secret list",
		summary: "list the link-signing keys: id, created, signing or verify-only (never the secrets)",
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			if _, err := subscribers.LoadKeys(ctx, db); err != nil {
				return err
			}
			return printKeys(ctx, a, db)
		},
	}
}

func secretRetireCommand() *command {
	return &command{
		name:    "secret retire",
		args:    "ID",
		summary: "delete a verify-only link-signing key: every link it signed stops working",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: secret retire takes one key ID", errUsage)
			}
			id, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil {
				return fmt.Errorf("%w: key ID %q: want a number from \"secret list\"", errUsage, args[0])
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			if err := subscribers.RetireKey(ctx, db, uint32(id)); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "token key %d retired: the links it signed no longer work\n", id)
			return nil
		},
	}
}

func printKeys(ctx context.Context, a *app, db *sqlite.DB) error {
	keys, err := subscribers.ListKeys(ctx, db)
	if err != nil {
		return err
	}
	for _, k := range keys {
		role, created := "verify-only", "at first start"
		if k.Signing {
			role = "signing"
		}
		if !k.Created.IsZero() {
			created = sqlite.Time(k.Created)
		}
		fmt.Fprintf(a.stdout, "%d\t%s\t%s\n", k.ID, role, created)
	}
	return nil
}

func subscribersRevokeLinksCommand() *command {
	return &command{
		name:    "subscribers revoke-links",
		args:    "EMAIL",
		summary: "revoke every link mailed to a subscriber (unsubscribe, preferences, confirmation)",
		help: `Bumps the subscriber's link generation: every link already mailed to them
answers as invalid from now on, and the next mail carries new links. The
reader can get new links at once by signing up again with the address (the
"already subscribed" mail carries them).`,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: subscribers revoke-links takes one EMAIL", errUsage)
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			s := subscribers.NewStore(db)
			sub, err := s.FindByEmail(ctx, args[0])
			if err != nil {
				return err
			}
			if sub, err = s.RevokeLinks(ctx, sub.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "revoked the links of %s (link generation %d)\n", sub.Email, sub.LinkGeneration)
			return nil
		},
	}
}
