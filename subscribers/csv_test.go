package subscribers_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
)

func TestParseCSV(t *testing.T) {
	in := "\xef\xbb\xbfEmail,Name,timezone,topics\n" + // BOM and a capitalised header
		"ana@example.com,Ana,Europe/Paris,Economy;Climate\n" + // 2
		"not-an-address,Bob,,\n" + // 3
		"ana@EXAMPLE.com,Ana again,,\n" + // 4: duplicate of 2
		"eve@example.com,\"Eve\r\nBcc: x@example.com\",,\n" + // 5-6: injection in the name
		"tz@example.com,,Mars/Base,\n" + // 7
		"short@example.com,Short\n" + // 8: too few fields
		"\"bad\"quote@example.com,,,\n" + // 9
		"\n" +
		"ok@bücher.example,\"'=HYPERLINK(\"\"x\"\")\",UTC,\n" // 11
	rows, bad, err := subscribers.ParseCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 11 {
		t.Fatalf("rows=%+v", rows)
	}
	if got := rows[0].Topics; len(got) != 2 || got[1] != "Climate" {
		t.Fatalf("topics=%q", got)
	}
	if rows[1].Email != "ok@xn--bcher-kva.example" || rows[1].Name != `=HYPERLINK("x")` {
		t.Fatalf("row 11=%+v", rows[1])
	}
	want := map[int]string{3: "invalid email address", 4: "same address as line 2", 5: "control character",
		7: "Mars/Base", 8: "2 fields, the header has 4", 9: "malformed CSV"}
	if len(bad) != len(want) {
		t.Fatalf("bad=%v, want lines %v", bad, want)
	}
	for _, b := range bad {
		if w, ok := want[b.Line]; !ok || !strings.Contains(b.Reason, w) {
			t.Errorf("bad row %v, want line %d to mention %q", b, b.Line, w)
		}
	}

	t.Run("Header", func(t *testing.T) {
		for in, want := range map[string]string{
			"":                              "empty",
			"name,timezone\nAna,UTC\n":      "no email column",
			"email,nmae\na@example.com,A\n": `unknown column "nmae"`,
			"email,email\n":                 "twice",
			"ana@example.com,Ana\n":         "add a header row",
		} {
			_, _, err := subscribers.ParseCSV(strings.NewReader(in))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseCSV(%q) err=%v, want %q", in, err, want)
			}
		}
	})
}

func TestStore_Import(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	mustAdd(t, s, "active@example.com", "Old Name")
	unsub := mustAdd(t, s, "unsub@example.com", "")
	s.Unsubscribe(ctx, unsub.ID)
	bounced := mustAdd(t, s, "bounced@example.com", "")
	s.SetStatus(ctx, bounced.ID, subscribers.StatusBounced)
	pending, _, _ := s.SignUp(ctx, subscribers.SignUp{Email: "pending@example.com"}, subscribers.SignUpConfig{})

	file := "email,name,timezone,topics\n" +
		"new@example.com,New,Asia/Tokyo,Tech\n" +
		"ACTIVE@example.com,New Name,,\n" +
		"unsub@example.com,,,\n" +
		"bounced@example.com,,,\n" +
		"pending@example.com,,,\n"
	rows, bad, err := subscribers.ParseCSV(strings.NewReader(file))
	if err != nil || len(bad) != 0 {
		t.Fatal(err, bad)
	}
	res, err := s.Import(ctx, rows, subscribers.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Updated != 2 || res.KeptInactive != 2 || res.Reactivated != 0 || len(res.Notes) != 2 {
		t.Fatalf("Import=%+v", res)
	}
	check := func(email string, st subscribers.Status) *subscribers.Subscriber {
		t.Helper()
		sub, err := s.FindByEmail(ctx, email)
		if err != nil || sub.Status != st {
			t.Fatalf("%s: %+v, %v; want %s", email, sub, err, st)
		}
		return sub
	}
	if n := check("active@example.com", subscribers.StatusActive); n.Name != "New Name" || n.Email != "active@example.com" {
		t.Fatalf("active updated to %+v", n)
	}
	if n := check("new@example.com", subscribers.StatusActive); n.Source != "import" || n.Timezone != "Asia/Tokyo" {
		t.Fatalf("new=%+v", n)
	}
	check("unsub@example.com", subscribers.StatusUnsubscribed)
	check("bounced@example.com", subscribers.StatusBounced)
	check("pending@example.com", subscribers.StatusActive)
	_ = pending

	t.Run("Idempotent", func(t *testing.T) {
		res, err := s.Import(ctx, rows, subscribers.ImportOptions{})
		if err != nil || res.Unchanged != 3 || res.KeptInactive != 2 || res.Imported() != 0 {
			t.Fatalf("again=%+v, %v", res, err)
		}
	})
	t.Run("Resubscribe", func(t *testing.T) {
		res, err := s.Import(ctx, rows, subscribers.ImportOptions{Resubscribe: true})
		if err != nil || res.Reactivated != 2 {
			t.Fatalf("resubscribe=%+v, %v", res, err)
		}
		check("unsub@example.com", subscribers.StatusActive)
		check("bounced@example.com", subscribers.StatusActive)
	})
	t.Run("ExportRoundTrip", func(t *testing.T) {
		var b bytes.Buffer
		if _, err := s.UpdatePreferences(ctx, unsub.ID, subscribers.Preferences{Name: "=cmd|'/c calc'!A1", PreferredHour: 7}); err != nil {
			t.Fatal(err)
		}
		n, err := s.Export(ctx, &b, subscribers.SearchParams{})
		if err != nil || n != 5 {
			t.Fatalf("Export=%d, %v", n, err)
		}
		if !strings.Contains(b.String(), `'=cmd|'/c calc'!A1`) {
			t.Fatalf("formula not defused:\n%s", b.String())
		}
		rows, bad, err := subscribers.ParseCSV(&b)
		if err != nil || len(bad) != 0 || len(rows) != 5 {
			t.Fatalf("re-import: %d rows, %v, %v", len(rows), bad, err)
		}
		for _, r := range rows {
			if r.Email == "unsub@example.com" && r.Name != "=cmd|'/c calc'!A1" {
				t.Fatalf("name came back as %q", r.Name)
			}
		}
	})
}

func TestStore_ImportBatches(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	mustAdd(t, s, "c@example.com", "")
	s.Erase(ctx, "e@example.com")
	var rows []subscribers.ImportRow
	for i, e := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"} {
		rows = append(rows, subscribers.ImportRow{Line: i + 2, Email: e})
	}
	res, err := s.Import(ctx, rows, subscribers.ImportOptions{Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Unchanged != 1 || res.Suppressed != 1 || len(res.Notes) != 1 || res.Notes[0].Line != 6 {
		t.Fatalf("Import in batches of 2=%+v", res)
	}
	if n, _ := s.Counts(ctx); n[subscribers.StatusActive] != 4 {
		t.Fatalf("counts=%v", n)
	}
}
