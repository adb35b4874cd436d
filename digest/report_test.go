package digest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
)

func TestStore_AddReport(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	importJSON(t, store, validStory("one"))

	t.Run("OK", func(t *testing.T) {
		r := &digest.Report{StoryID: "one", Kind: "error", Message: "  The vote count is wrong.\r\n", Email: "Reader@Example.COM"}
		if err := store.AddReport(ctx, r, "client-a", digest.ReportLimit{}); err != nil {
			t.Fatal(err)
		}
		if r.ID == 0 || r.Version != 1 || r.Message != "The vote count is wrong." || r.Email != "Reader@example.com" {
			t.Fatalf("report=%+v", r)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		tests := []struct {
			name  string
			r     digest.Report
			field string
		}{
			{"NoKind", digest.Report{StoryID: "one", Message: "x"}, "kind"},
			{"UnknownKind", digest.Report{StoryID: "one", Kind: "spam", Message: "x"}, "kind"},
			{"Empty", digest.Report{StoryID: "one", Kind: "other", Message: "   \n "}, "message"},
			{"Huge", digest.Report{StoryID: "one", Kind: "other", Message: strings.Repeat("ü", digest.MaxReportMessage+1)}, "message"},
			{"Control", digest.Report{StoryID: "one", Kind: "other", Message: "a\x1bb"}, "message"},
			{"BadEmail", digest.Report{StoryID: "one", Kind: "other", Message: "x", Email: "me@x\r\nBcc: y@z.example"}, "email"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := store.AddReport(ctx, &tt.r, "client-b", digest.ReportLimit{})
				var re *digest.ReportError
				if !errors.As(err, &re) || re.Field != tt.field {
					t.Fatalf("err=%v, want a ReportError on %s", err, tt.field)
				}
			})
		}
		if err := store.AddReport(ctx, &digest.Report{StoryID: "nope", Kind: "other", Message: "x"}, "c", digest.ReportLimit{}); !errors.Is(err, digest.ErrStoryNotFound) {
			t.Fatalf("unknown story: err=%v", err)
		}
	})
	t.Run("ScriptTextStoredAsText", func(t *testing.T) {
		r := &digest.Report{StoryID: "one", Kind: "other", Message: "<script>alert(1)</script>"}
		if err := store.AddReport(ctx, r, "client-c", digest.ReportLimit{}); err != nil {
			t.Fatal(err)
		}
		list, _ := store.Reports(ctx, false, 10)
		if list[0].Message != "<script>alert(1)</script>" || list[0].StoryTitle != "Title of one" {
			t.Fatalf("stored %+v", list[0])
		}
	})
	t.Run("RateLimited", func(t *testing.T) {
		limit := digest.ReportLimit{Max: 2, Window: time.Hour}
		for i := range 2 {
			if err := store.AddReport(ctx, &digest.Report{StoryID: "one", Kind: "other", Message: "x"}, "client-d", limit); err != nil {
				t.Fatalf("report %d: %v", i, err)
			}
		}
		if err := store.AddReport(ctx, &digest.Report{StoryID: "one", Kind: "other", Message: "x"}, "client-d", limit); !errors.Is(err, digest.ErrRateLimited) {
			t.Fatalf("third report: err=%v, want ErrRateLimited", err)
		}
		// Another client is not affected; the same one may report again later.
		if err := store.AddReport(ctx, &digest.Report{StoryID: "one", Kind: "other", Message: "x"}, "client-e", limit); err != nil {
			t.Fatal(err)
		}
		clock.Advance(61 * time.Minute)
		if err := store.AddReport(ctx, &digest.Report{StoryID: "one", Kind: "other", Message: "x"}, "client-d", limit); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
	t.Run("Resolve", func(t *testing.T) {
		open, _ := store.Reports(ctx, false, 100)
		if err := store.ResolveReport(ctx, open[0].ID); err != nil {
			t.Fatal(err)
		}
		after, _ := store.Reports(ctx, false, 100)
		if got, want := len(after), len(open)-1; got != want {
			t.Fatalf("open reports=%d, want %d", got, want)
		}
		all, _ := store.Reports(ctx, true, 100)
		if all[0].ResolvedAt.IsZero() {
			t.Fatal("resolved report has no time")
		}
		if err := store.ResolveReport(ctx, 99999); !errors.Is(err, digest.ErrReportNotFound) {
			t.Fatalf("err=%v", err)
		}
	})
}
