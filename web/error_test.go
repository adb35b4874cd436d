package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/subscribers"
)

// TestFailureOf pins the one error-to-status map of the pages, the console
// and the API.
func TestFailureOf(t *testing.T) {
	for _, tt := range []struct {
		name    string
		err     error
		code    int
		heading string // the public page's heading
	}{
		{"ErrInvalidToken", subscribers.ErrInvalidToken, http.StatusBadRequest, "This link is not valid"},
		{"ScheduleErrInvalid", schedule.ErrInvalid, http.StatusBadRequest, "Bad Request"},
		{"BadInput", badInput("date %q: want YYYY-MM-DD", "x"), http.StatusBadRequest, "Bad Request"},
		{"ErrInvalidAddress", subscribers.ErrInvalidAddress, http.StatusBadRequest, "Bad Request"},
		{"SubscribersErrInvalid", subscribers.ErrInvalid, http.StatusBadRequest, "Bad Request"},
		{"ImportError", &digest.ImportError{Problems: []digest.Problem{{Story: 0, Field: "title", Msg: "missing"}}}, http.StatusBadRequest, "Bad Request"},
		{"SubscribersErrNotFound", subscribers.ErrNotFound, http.StatusNotFound, "Subscriber not found"},
		{"ErrStoryNotFound", digest.ErrStoryNotFound, http.StatusNotFound, "Story not found"},
		{"ErrNoEdition", digest.ErrNoEdition, http.StatusNotFound, "Not found"},
		{"NotFound", errNotFound, http.StatusNotFound, "Not found"},
		{"ScheduleErrNotFound", schedule.ErrNotFound, http.StatusNotFound, "Not Found"},
		{"ErrReportNotFound", digest.ErrReportNotFound, http.StatusNotFound, "Not Found"},
		{"ErrExists", schedule.ErrExists, http.StatusConflict, "Conflict"},
		{"ErrBusy", schedule.ErrBusy, http.StatusConflict, "Conflict"},
		{"ErrClaimed", schedule.ErrClaimed, http.StatusConflict, "Conflict"},
		{"Conflict", conflict("the %s edition was sent already", "default"), http.StatusConflict, "Conflict"},
		{"ErrEditionStarted", digest.ErrEditionStarted, http.StatusConflict, "Conflict"},
		{"ErrBadTransition", digest.ErrBadTransition, http.StatusConflict, "Conflict"},
		{"ErrNoStories", digest.ErrNoStories, http.StatusUnprocessableEntity, "Unprocessable Entity"},
		{"ErrShutdown", schedule.ErrShutdown, http.StatusServiceUnavailable, "Service Unavailable"},
		{"Wrapped", fmt.Errorf("get schedule: %w", schedule.ErrNotFound), http.StatusNotFound, "Not Found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := failureOf(tt.err)
			if got, want := f.Code, tt.code; got != want {
				t.Fatalf("Code=%d, want %d", got, want)
			}
			if got, want := f.Page.Heading, tt.heading; got != want {
				t.Fatalf("Page.Heading=%q, want %q", got, want)
			}
			if !f.Page.Error {
				t.Fatal("Page.Error=false, want true")
			}
			if got, want := f.Detail, tt.err.Error(); got != want {
				t.Fatalf("Detail=%q, want the error's own %q", got, want)
			}
			want := tt.err.Error()
			if _, ok := tt.err.(*digest.ImportError); ok {
				want = "nothing imported"
				if got, want := fmt.Sprint(f.Body["problems"]), "[story 0: title: missing]"; got != want {
					t.Fatalf(`Body["problems"]=%s, want %s`, got, want)
				}
			}
			if got := f.Body["error"]; got != want {
				t.Fatalf(`Body["error"]=%q, want %q`, got, want)
			}
		})
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"Unexpected", errors.New("open /var/lib/bothsides/secret.db: permission denied")},
		{"Canceled", fmt.Errorf("select stories: %w", context.Canceled)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := failureOf(tt.err)
			if got, want := f.Code, http.StatusInternalServerError; got != want {
				t.Fatalf("Code=%d, want %d", got, want)
			}
			if got, want := f.Page.Heading, "Internal error"; got != want {
				t.Fatalf("Page.Heading=%q, want %q", got, want)
			}
			for _, shown := range []string{f.Page.Text, f.Detail, fmt.Sprint(f.Body["error"])} {
				if strings.Contains(shown, "select") || strings.Contains(shown, "secret") || strings.Contains(shown, "cancel") {
					t.Fatalf("shown %q leaks the error %q", shown, tt.err)
				}
			}
		})
	}
}

// TestWriteError: the route decides the shape; the unexpected is logged,
// an abandoned request is not answered.
func TestWriteError(t *testing.T) {
	call := func(method, path, pattern string, err error) (*httptest.ResponseRecorder, string, *failure) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r := httptest.NewRequest(method, path, nil)
		r.Pattern = pattern
		w := httptest.NewRecorder()
		var paged *failure
		writeError(w, r, log, err, func(w http.ResponseWriter, r *http.Request, f failure) {
			paged = &f
			w.WriteHeader(f.Code)
		})
		return w, logs.String(), paged
	}
	t.Run("API", func(t *testing.T) {
		w, logs, paged := call("GET", "/api/schedules/x", "GET /api/schedules/{name}", schedule.ErrNotFound)
		if paged != nil {
			t.Fatal("an API error was written as a page")
		}
		if got, want := w.Code, http.StatusNotFound; got != want {
			t.Fatalf("Status=%d, want %d", got, want)
		}
		if got, want := w.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
			t.Fatalf("Content-Type=%q, want %q", got, want)
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != schedule.ErrNotFound.Error() {
			t.Fatalf("body %s (%v)", w.Body, err)
		}
		if logs != "" {
			t.Fatalf("an expected error was logged: %s", logs)
		}
	})
	t.Run("Progress", func(t *testing.T) {
		w, _, paged := call("GET", "/admin/editions/default/2026-11-27/progress", progressRoute, digest.ErrNoEdition)
		if paged != nil || w.Code != http.StatusNotFound || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("progress: paged %v, status %d, Content-Type %q", paged != nil, w.Code, w.Header().Get("Content-Type"))
		}
	})
	t.Run("Page", func(t *testing.T) {
		w, _, paged := call("GET", "/admin/schedules/x", "GET /admin/schedules/{name}", schedule.ErrNotFound)
		if paged == nil || paged.Code != http.StatusNotFound || w.Code != http.StatusNotFound {
			t.Fatalf("page: paged %v, status %d", paged, w.Code)
		}
	})
	t.Run("Unexpected", func(t *testing.T) {
		w, logs, _ := call("GET", "/api/editions", "GET /api/editions", errors.New("disk on fire"))
		if got, want := w.Code, http.StatusInternalServerError; got != want {
			t.Fatalf("Status=%d, want %d", got, want)
		}
		if strings.Contains(w.Body.String(), "disk") {
			t.Fatalf("body %s leaks the error", w.Body)
		}
		if !strings.Contains(logs, "request failed") || !strings.Contains(logs, "disk on fire") {
			t.Fatalf("logs %q: want the error", logs)
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		w, logs, paged := call("GET", "/editions", "GET /editions", context.Canceled)
		if paged != nil || w.Body.Len() != 0 {
			t.Fatalf("an abandoned request was answered: paged %v, body %q", paged != nil, w.Body)
		}
		if strings.Contains(logs, "level=ERROR") {
			t.Fatalf("an abandoned request was logged as an error: %s", logs)
		}
	})
}
