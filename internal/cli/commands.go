// Package cli is the bothsides command line: the command table, the
// configuration from flags over environment over defaults, and the wiring
// of the packages below it. Run is the whole program.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"bothsides/digest"
)

var (
	// errUsage makes the process exit with status 2.
	errUsage = errors.New("usage")
	// errQuiet is an error already reported to the user.
	errQuiet = errors.New("reported")
)

// command is one entry of the command table.
type command struct {
	name    string // "stories import"
	args    string // "FILE"
	summary string
	help    string
	// settings are the command's own flags, bound to fields the run reads.
	settings []setting
	run      func(ctx context.Context, a *app, args []string) error
}

// commands is the command table. It makes the commands afresh, with their
// settings bound to new fields, for one invocation.
func commands() []*command {
	return []*command{
		helpCommand(), demoCommand(), storiesImportCommand(), storiesListCommand(),
		subscribersAddCommand(), subscribersListCommand(), subscribersImportCommand(),
		subscribersExportCommand(), subscribersRemoveCommand(), subscribersShowCommand(),
		subscribersRevokeLinksCommand(), secretRotateCommand(), secretListCommand(), secretRetireCommand(),
		previewCommand(), sendCommand(),
		editionsListCommand(), editionsShowCommand(),
		editionStatusCommand("pause", digest.EditionPaused,
			"pause an edition that is being sent",
			`The sender stops between two messages (the one being written is withdrawn
before its end and queued again); nothing more goes out until it is resumed.`),
		editionStatusCommand("resume", digest.EditionSending,
			"resume a paused edition",
			`Marks the edition as sending again, after an operator's pause or after the
sender paused it because the relay refused every message. Then run send
for the same date (or let serve's scheduler) to mail the rest: the ledger
knows who has it already.`),
		editionStatusCommand("cancel", digest.EditionCancelled,
			"cancel an edition for good",
			`Nothing more goes out; the deliveries made stay in the ledger. A cancelled
edition cannot be resumed.`),
		serveCommand(), benchCommand(),
		reportsListCommand(), reportsResolveCommand(),
		bouncesListCommand(),
		scheduleAddCommand(), scheduleListCommand(), scheduleEditCommand(),
		scheduleToggleCommand("schedule pause", false, "pause a schedule: its runs are not sent, nor caught up later"),
		scheduleToggleCommand("schedule resume", true, "resume a paused schedule from its next run"),
		scheduleRmCommand(), scheduleRunsCommand(),
	}
}

// Run is the whole program, with its arguments (without the program
// name), streams and environment injected.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	return run(ctx, args, stdin, stdout, stderr, getenv)
}

// run is the whole program, with its streams and environment injected.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	return newApp(stdin, stdout, stderr, getenv).main(ctx, args)
}

// ExitCode reports err on stderr, unless it was reported already, and
// returns the process's exit status: 0 without an error, 2 for a usage
// error, else 1.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	if !errors.Is(err, errQuiet) {
		fmt.Fprintln(stderr, "bothsides:", err)
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// main parses args and runs the command they name.
func (a *app) main(ctx context.Context, args []string) error {
	stderr := a.stderr
	a.commands = commands()
	// Global flags may also come before the command: this first parse only
	// finds where the command starts.
	gfs := flag.NewFlagSet("bothsides", flag.ContinueOnError)
	gfs.SetOutput(stderr)
	register(gfs, new(config).settings())
	gfs.Usage = func() { a.usage(stderr) }
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	globalArgs := args[:len(args)-len(gfs.Args())]
	if n := len(globalArgs); n > 0 && globalArgs[n-1] == "--" {
		globalArgs = globalArgs[:n-1]
	}
	args = gfs.Args()
	if len(args) == 0 {
		a.usage(stderr)
		return errUsage
	}
	cmd, rest := a.findCommand(args)
	if cmd == nil {
		a.usage(stderr)
		return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(args, " "))
	}
	fs := flag.NewFlagSet("bothsides "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := append(a.cfg.settings(), cmd.settings...)
	register(fs, settings)
	fs.Usage = func() { commandUsage(stderr, cmd, fs) }
	// Asked-for help goes to standard output, so that it can be paged;
	// usage after a mistake goes to standard error.
	for _, arg := range rest {
		if arg == "--" {
			break
		}
		if arg == "-h" || arg == "-help" || arg == "--help" {
			fs.SetOutput(a.stdout)
			commandUsage(a.stdout, cmd, fs)
			return nil
		}
	}
	if err := fs.Parse(append(globalArgs, interleave(fs, rest)...)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	a.given = givenFlags(fs)
	level := slog.LevelInfo
	if a.cfg.Verbose {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	defer a.close()
	if err := loadEnv(fs, settings, a.given, a.getenv); err != nil {
		return err
	}
	if err := a.checkBounceSettings(); err != nil {
		return err
	}
	return cmd.run(ctx, a, fs.Args())
}

// interleave moves flags after positional arguments to the front, so that
// `subscribers add a@b.example --name Ana` works as people type it.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(arg) > 1 && arg[0] == '-' {
			flags = append(flags, arg)
			name := strings.TrimLeft(arg, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, arg)
	}
	return append(flags, pos...)
}

// findCommand returns the command args name, the longest match, and the
// arguments after its name.
func (a *app) findCommand(args []string) (*command, []string) {
	var best *command
	bestLen := 0
	for _, c := range a.commands {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && len(words) > bestLen {
			match := true
			for i, w := range words {
				if args[i] != w {
					match = false
					break
				}
			}
			if match {
				best, bestLen = c, len(words)
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestLen:]
}

// usage writes the list of commands and the global flags.
func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "bothsides: a daily both-sides news digest.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: bothsides [global flags] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]*command, len(a.commands))
	copy(names, a.commands)
	sort.SliceStable(names, func(i, j int) bool { return names[i].name < names[j].name })
	for _, c := range names {
		fmt.Fprintf(w, "  %-28s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags (also accepted after the command):")
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(w)
	register(fs, new(config).settings())
	fs.PrintDefaults()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'bothsides COMMAND -h' for a command's flags.")
}

// commandUsage writes a command's help: its usage line, summary, help and
// flags (fs holds the global flags and the command's own).
func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: bothsides %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

func helpCommand() *command {
	return &command{
		name:    "help",
		args:    "[COMMAND]",
		summary: "explain the commands and their flags",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) > 0 {
				if c, _ := a.findCommand(args); c != nil {
					fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
					register(fs, append(new(config).settings(), c.settings...))
					fs.SetOutput(a.stdout)
					commandUsage(a.stdout, c, fs)
					return nil
				}
				return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(args, " "))
			}
			a.usage(a.stdout)
			return nil
		},
	}
}
