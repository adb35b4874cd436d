package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the program against the database in dir.
func runCLI(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"BOTHSIDES_DB": filepath.Join(dir, "bothsides.db"), "BOTHSIDES_OUTBOX": filepath.Join(dir, "outbox")}
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return out.String(), errb.String(), err
}

func TestSubscribersImport(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "list.csv")
	os.WriteFile(csv, []byte("email,name,timezone,topics\n"+
		"ana@example.com,Ana,Europe/Paris,Economy\n"+
		"bad-address,Bob,,\n"+
		"ben@example.org,\"Ben\nBcc: x@example.com\",,\n"+
		"cy@example.net,,,\n"), 0o644)

	t.Run("Strict", func(t *testing.T) {
		out, errOut, err := runCLI(t, dir, "", "subscribers", "import", "--strict", csv)
		if !errors.Is(err, errQuiet) {
			t.Fatalf("err=%v, want a failure", err)
		}
		for _, want := range []string{"list.csv: line 3: invalid email address", "list.csv: line 4: invalid value: name", "nothing imported, 2 bad row(s)"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr lacks %q:\n%s", want, errOut)
			}
		}
		list, _, _ := runCLI(t, dir, "", "subscribers", "list")
		if out != "" || list != "" {
			t.Fatalf("strict import imported something: %q %q", out, list)
		}
	})
	t.Run("Default", func(t *testing.T) {
		out, errOut, err := runCLI(t, dir, "", "subscribers", "import", csv)
		if err != nil {
			t.Fatalf("err=%v\n%s", err, errOut)
		}
		if want := "/list.csv: 4 rows: 2 added, 0 updated, 0 resubscribed, 0 unchanged, 0 left inactive, 0 erased skipped, 2 bad\n"; !strings.HasSuffix(out, want) {
			t.Fatalf("summary=%q, want %q", out, want)
		}
		if !strings.Contains(errOut, "line 3") || !strings.Contains(errOut, "line 4") {
			t.Fatalf("bad rows not reported:\n%s", errOut)
		}
	})
	t.Run("Resubscribe", func(t *testing.T) {
		if _, _, err := runCLI(t, dir, "", "subscribers", "remove", "cy@example.net"); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := runCLI(t, dir, "email\nana@example.com\ncy@example.net\n", "subscribers", "import", "--resubscribe", "-")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "1 unchanged") || !strings.Contains(out, "1 erased skipped") || !strings.Contains(errOut, "line 3: cy@example.net: skipped, the address was erased") {
			t.Fatalf("out=%q err=%q", out, errOut)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		if _, _, err := runCLI(t, dir, "", "subscribers", "import"); !errors.Is(err, errUsage) {
			t.Fatalf("err=%v", err)
		}
		if _, _, err := runCLI(t, dir, "", "subscribers", "import", filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
			t.Fatalf("err=%v", err)
		}
	})
}

func TestSubscribersExportShowRemove(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runCLI(t, dir, "", "subscribers", "add", "Ana@Example.com", "--name", "Ana"); err != nil {
		t.Fatal(err)
	}
	runCLI(t, dir, "", "subscribers", "add", "ben@example.org")
	out, _, err := runCLI(t, dir, "", "subscribers", "export")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "email,name,timezone,topics,status") || !strings.HasPrefix(lines[1], "Ana@example.com,Ana,,,active,,,cli,") {
		t.Fatalf("export:\n%s", out)
	}
	if _, _, err := runCLI(t, dir, "", "subscribers", "export", "--status", "gone"); !errors.Is(err, errUsage) {
		t.Fatalf("bad status err=%v", err)
	}

	out, _, err = runCLI(t, dir, "", "subscribers", "show", "ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stored address:", "Ana@example.com", "name:", "Ana", "status:", "active", "deliveries:"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	js, _, err := runCLI(t, dir, "", "subscribers", "show", "--json", "ana@example.com")
	if err != nil || !strings.Contains(js, `"status": "active"`) || !strings.Contains(js, `"suppressed": false`) {
		t.Fatalf("show --json=%s, %v", js, err)
	}

	out, _, err = runCLI(t, dir, "", "subscribers", "remove", "ANA@example.com")
	if err != nil || !strings.Contains(out, "erased Ana@example.com") {
		t.Fatalf("remove=%q, %v", out, err)
	}
	out, _, _ = runCLI(t, dir, "", "subscribers", "show", "ana@example.com")
	if !strings.Contains(out, "suppression list:  yes") || !strings.Contains(out, "no subscriber data is held") || strings.Contains(out, "Ana\n") {
		t.Fatalf("show after remove:\n%s", out)
	}
	if _, _, err := runCLI(t, dir, "", "subscribers", "add", "ana@example.com"); err == nil || !strings.Contains(err.Error(), "suppression list") {
		t.Fatalf("add after remove err=%v", err)
	}
	// The database files hold no trace of the address.
	for _, f := range []string{"bothsides.db", "bothsides.db-wal"} {
		raw, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(bytes.ToLower(raw), []byte("ana@example.com")) {
			t.Errorf("%s still holds the erased address", f)
		}
	}
}
