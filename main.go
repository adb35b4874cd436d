// Command bothsides sends a daily both-sides news digest: it imports
// stories into SQLite, assembles each day's edition, mails it through SMTP
// and serves the unsubscribe links and the web archive.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"bothsides/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(cli.ExitCode(err, os.Stderr))
}
