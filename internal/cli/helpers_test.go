package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
)

// cli runs bothsides commands in-process against one database, with an
// injected clock and environment.
type cli struct {
	t     *testing.T
	dir   string
	env   map[string]string
	clock *testsupport.Clock
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	return &cli{t: t, dir: dir, clock: testsupport.NewClock(testsupport.Epoch), env: map[string]string{
		"BOTHSIDES_DB":     filepath.Join(dir, "test.db"),
		"BOTHSIDES_OUTBOX": filepath.Join(dir, "outbox"),
	}}
}

func (c *cli) app(stdin string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errb, func(k string) string { return c.env[k] })
	a.now = c.clock.Now
	return a, &out, &errb
}

// run runs one command and returns its output and error.
func (c *cli) run(stdin string, args ...string) (string, string, error) {
	c.t.Helper()
	a, out, errb := c.app(stdin)
	err := a.main(context.Background(), args)
	return out.String(), errb.String(), err
}

// must runs one command that must succeed.
func (c *cli) must(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(stdin, args...)
	if err != nil {
		c.t.Fatalf("bothsides %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

type storyJSON map[string]any

func story(id, title string, published time.Time, sources ...string) storyJSON {
	var arts []any
	for i, bias := range sources {
		arts = append(arts, map[string]any{
			"source": fmt.Sprintf("Outlet %s %d", bias, i), "bias": bias,
			"url": fmt.Sprintf("https://example.com/%s/%d", id, i), "title": "Article " + id,
		})
	}
	return storyJSON{
		"id": id, "title": title, "summary": "Summary of " + title + ".",
		"published_at": published.Format(time.RFC3339),
		"topics":       []any{"Topic " + id},
		"overview":     []any{"Overview of " + id + "."},
		"framing":      map[string]any{"left": "Left on " + id + ".", "center": "Center on " + id + ".", "right": "Right on " + id + "."},
		"articles":     arts,
		"faq":          []any{map[string]any{"question": "What about " + id + "?", "answer": "An answer."}},
	}
}

func importFile(t *testing.T, stories ...storyJSON) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"stories": stories})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var linkInBrackets = regexp.MustCompile(`<(https?://[^>]+)>`)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for range 200 {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("server at %s never became healthy", base)
}

// loadSettings parses args into settings, then fills the ones not given
// from the environment. It returns the positional arguments and the flags
// given.
func loadSettings(fs *flag.FlagSet, settings []setting, args []string, getenv func(string) string) ([]string, map[string]bool, error) {
	register(fs, settings)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	given := givenFlags(fs)
	return fs.Args(), given, loadEnv(fs, settings, given, getenv)
}

// dkimKey writes key as the PKCS #8 PEM file --dkim-key reads and points
// the CLI at it, published under selector; it returns the file's path.
func (c *cli) dkimKey(key crypto.Signer, selector string) string {
	c.t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		c.t.Fatal(err)
	}
	file := filepath.Join(c.dir, "dkim.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		c.t.Fatal(err)
	}
	c.env["BOTHSIDES_DKIM_KEY"] = file
	c.env["BOTHSIDES_DKIM_SELECTOR"] = selector
	return file
}
