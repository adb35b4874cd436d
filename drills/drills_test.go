// Package drills holds the reliability and security drills of
// docs/RELIABILITY.md: each runs the real bothsides binary (built once per
// test run) or the real packages against a real SQLite file, a real SMTP
// server and real HTTP on 127.0.0.1, with seeded randomness whose seed is
// logged so that a failing run can be replayed.
package drills

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bothsides/sample"
	"bothsides/sqlite"
)

// bin is the bothsides binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	if h := os.Getenv("DRILL_HELPER"); h != "" {
		os.Exit(helper(h, os.Args))
	}
	dir, err := os.MkdirTemp("", "bothsides-drills-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, sinkBin = filepath.Join(dir, "bothsides"), filepath.Join(dir, "sink")
	// Plain builds (no -race): the drills measure the program as shipped,
	// and the race detector would slow the sends tenfold.
	for out, pkg := range map[string]string{bin: "bothsides", sinkBin: "bothsides/drills/internal/sink"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// seed returns the drill's random seed: DRILL_SEED when set (to replay a
// run), else a fresh one. It is logged either way.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("DRILL_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DRILL_SEED=%q: %v", v, err)
		}
		s = n
	}
	t.Logf("seed %d (replay with DRILL_SEED=%d)", s, s)
	return s
}

func newRand(s uint64) *rand.Rand { return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)) }

// site is one bothsides installation: a folder with its database, and the
// environment its commands run with.
type site struct {
	t   *testing.T
	dir string
	db  string
	env map[string]string
}

func newSite(t *testing.T) *site {
	return newSiteIn(t, t.TempDir())
}

func newSiteIn(t *testing.T, dir string) *site {
	return &site{t: t, dir: dir, db: filepath.Join(dir, "bothsides.db"), env: map[string]string{
		"BOTHSIDES_DB":       filepath.Join(dir, "bothsides.db"),
		"BOTHSIDES_OUTBOX":   filepath.Join(dir, "outbox"),
		"BOTHSIDES_BASE_URL": "https://news.example.com",
		"BOTHSIDES_FROM":     "Both Sides <digest@news.example.com>",
	}}
}

// open opens the site's database in the test process and returns it with
// the server's token secret, to read state and forge or check links.
func (s *site) open() (*sqlite.DB, []byte) {
	s.t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, s.db)
	if err != nil {
		s.t.Fatal(err)
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		db.Close()
		s.t.Fatal(err)
	}
	return db, key
}

// command returns the bothsides command with the site's environment.
func (s *site) command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, bin, args...)
	c.Env = os.Environ()
	for k, v := range s.env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Dir = s.dir
	c.WaitDelay = 5 * time.Second
	// Its own process group, so that a kill reaches nothing else.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

// run runs a command to the end (at most two minutes) and returns its
// output and error.
func (s *site) run(args ...string) (stdout, stderr string, err error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := s.command(ctx, args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err = c.Run()
	return out.String(), errb.String(), err
}

// must runs a command that must succeed.
func (s *site) must(args ...string) string {
	s.t.Helper()
	out, errOut, err := s.run(args...)
	if err != nil {
		s.t.Fatalf("bothsides %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// The edition the drills send: the sample stories' day.
const editionDate = "2026-11-27"

// addressOf is the address of the drill's i-th subscriber (0-based).
func addressOf(i int) string { return fmt.Sprintf("reader%05d@example.com", i) }

// populate imports the sample stories and n active subscribers.
func (s *site) populate(n int) {
	s.t.Helper()
	stories := filepath.Join(s.dir, "stories.json")
	if err := os.WriteFile(stories, sample.Stories, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("stories", "import", stories)
	var b strings.Builder
	b.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,Reader %d\n", addressOf(i), i)
	}
	csvPath := filepath.Join(s.dir, "subscribers.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.must("subscribers", "import", csvPath)
}
