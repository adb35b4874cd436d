package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/CONFIGURATION.md's generated tables")

// TestDocs checks that docs/CONFIGURATION.md's flag tables are those of the
// command table; go test ./internal/cli -run TestDocs -update rewrites them.
func TestDocs(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "CONFIGURATION.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := renderDocs(string(doc))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if got == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is out of date with the settings; run go test ./internal/cli -run TestDocs -update", path)
}
