package main

import (
	"strings"
	"testing"
)

func TestScheduleCommands_Local(t *testing.T) {
	c := newCLI(t)
	cmd := func(args ...string) (string, error) {
		out, errOut, err := c.run("", args...)
		return out + errOut, err
	}
	t.Run("Add", func(t *testing.T) {
		out, err := cmd("schedule", "add", "morning", "local 07:00 Europe/London")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, want := range []string{"morning\tenabled\tlocal 07:00 Europe/London\t5 stories", "07:00 GMT",
			"(in Europe/London; each subscriber at 07:00 in their own zone)"} {
			if !strings.Contains(out, want) {
				t.Fatalf("output %q lacks %q", out, want)
			}
		}
	})
	t.Run("ErrTime", func(t *testing.T) {
		_, err := cmd("schedule", "add", "dawn", "local 7am")
		if err == nil || !strings.Contains(err.Error(), `time "7am": want HH:MM`) {
			t.Fatalf("err=%v, want the bad time named", err)
		}
	})
	t.Run("ErrZone", func(t *testing.T) {
		_, err := cmd("schedule", "add", "dawn", "local 07:00 Moon/Base")
		if err == nil || !strings.Contains(err.Error(), `unknown time zone "Moon/Base"`) {
			t.Fatalf("err=%v, want the unknown zone named", err)
		}
	})
	t.Run("EditToLocal", func(t *testing.T) {
		if out, err := cmd("schedule", "add", "evening", "0 19 * * *"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		out, err := cmd("schedule", "edit", "evening", "--spec", "local 19:30")
		if err != nil || !strings.Contains(out, "local 19:30\t") || !strings.Contains(out, "19:30 UTC") {
			t.Fatalf("edit: %v %q", err, out)
		}
	})
}
