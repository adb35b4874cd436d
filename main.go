// Command bothsides sends a daily both-sides news digest: it imports
// stories into SQLite, assembles each day's edition, mails it through SMTP
// and serves the unsubscribe links and the web archive.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	if err != nil && !errors.Is(err, errQuiet) {
		fmt.Fprintln(os.Stderr, "bothsides:", err)
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
