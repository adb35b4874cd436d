package drills

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bothsides/digest"
)

// mountTmpfs mounts a tmpfs of the given size (e.g. "8m") for the test and
// unmounts it at the end. It needs root; without it the test is skipped
// with the reason.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tmpfs for a full or read-only file system needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; unmounting lazily", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", dir, mode, err, out)
	}
}

// fill writes a file in dir until the file system is full, then frees
// slack bytes, and returns its path; removing it frees the space.
func fill(t *testing.T, dir string, slack int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	// The last partial blocks.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	if slack > 0 {
		size, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(max(size-slack, 0)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// ledger reads an edition's state straight from the file, read-only.
type ledger struct {
	editions   int // editions of the drill's date
	status     string
	frozen     bool // the edition's stories are stored in full
	deliveries map[string]int
}

func readLedger(t *testing.T, path string) ledger {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var l ledger
	l.deliveries = map[string]int{}
	var content string
	err = db.QueryRow(`SELECT COUNT(*) OVER (), status, content FROM editions WHERE date = ?`, editionDate).Scan(&l.editions, &l.status, &content)
	if errors.Is(err, sql.ErrNoRows) {
		return l
	}
	if err != nil {
		t.Fatalf("read edition: %v", err)
	}
	var e digest.Edition
	l.frozen = json.Unmarshal([]byte(content), &e) == nil && len(e.Stories) > 0
	rows, err := db.Query(`SELECT status, COUNT(*) FROM deliveries GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		l.deliveries[st] = n
	}
	return l
}

// checkWhole fails unless the edition is absent, or stored whole with a
// ledger row for every subscriber (none while merely assembled).
func (l ledger) checkWhole(t *testing.T, subscribersN int) {
	t.Helper()
	total := 0
	for _, n := range l.deliveries {
		total += n
	}
	switch {
	case l.editions == 0:
		if total != 0 {
			t.Fatalf("no edition but %d deliveries", total)
		}
	case l.editions > 1:
		t.Fatalf("%d editions for %s", l.editions, editionDate)
	case !l.frozen:
		t.Fatalf("edition %s stored without its stories", l.status)
	case l.status == "assembled" && total != 0, l.status != "assembled" && total != subscribersN:
		t.Fatalf("edition %s with %d deliveries of %d subscribers: half-assembled", l.status, total, subscribersN)
	}
}

// send runs `bothsides send` for the drill's edition through srv.
func (s *site) send(srv *sinkServer) (string, error) {
	_, errOut, err := s.run("send", "--date", editionDate, "--smtp", srv.URL(), "--connections", "4")
	return errOut, err
}

// lastLine is the error line bothsides printed.
func lastLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "bothsides: ") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// TestDrill_Storage is drill 3: the database's file system read-only or
// full, and the database locked by another process. Each gives a clear
// error, leaves no half-assembled edition, and a send once the fault is
// gone finishes with nobody missed.
func TestDrill_Storage(t *testing.T) {
	const n = 1000
	t.Run("ReadOnly", func(t *testing.T) {
		dir := mountTmpfs(t, "64m")
		s := newSiteIn(t, dir)
		s.populate(n)
		srv := startSink(t, true)
		c := srv
		remount(t, dir, "ro")
		errOut, err := s.send(srv)
		if err == nil {
			t.Fatal("send on a read-only file system succeeded")
		}
		msg := lastLine(errOut)
		t.Logf("read-only: %s", msg)
		if !strings.Contains(msg, "not writable") || !strings.Contains(msg, s.db) {
			t.Fatalf("error %q does not say the database is not writable", msg)
		}
		if c.count() != 0 {
			t.Fatalf("%d messages sent from a read-only database", c.count())
		}
		remount(t, dir, "rw")
		readLedger(t, s.db).checkWhole(t, n)
		if errOut, err := s.send(srv); err != nil {
			t.Fatalf("send after the fault: %v\n%s", err, errOut)
		}
		c.check(t, n, 0)
	})

	// The disk full before the send, and with a little room left: the
	// send fails wherever the space runs out (opening the database,
	// assembling the edition, freezing its audience), never half-way.
	for _, slack := range []int64{0, 48 << 10, 160 << 10} {
		t.Run(fmt.Sprintf("DiskFullSlack%dK", slack>>10), func(t *testing.T) {
			dir := mountTmpfs(t, "16m")
			s := newSiteIn(t, dir)
			s.populate(n)
			srv := startSink(t, true)
			c := srv
			filler := fill(t, dir, slack)
			errOut, err := s.send(srv)
			msg := lastLine(errOut)
			if err == nil {
				t.Logf("disk full with %d KiB free: the send fit", slack>>10)
			} else {
				t.Logf("disk full with %d KiB free, %d messages sent: %s", slack>>10, c.count(), msg)
				if !strings.Contains(msg, "full") {
					t.Fatalf("error %q does not say the disk is full", msg)
				}
			}
			os.Remove(filler)
			readLedger(t, s.db).checkWhole(t, n)
			if errOut, err := s.send(srv); err != nil {
				t.Fatalf("send after the fault: %v\n%s", err, errOut)
			}
			c.check(t, n, 4)
		})
	}

	t.Run("DiskFullMidSend", func(t *testing.T) {
		dir := mountTmpfs(t, "16m")
		s := newSiteIn(t, dir)
		s.populate(n)
		srv := startSink(t, true)
		c := srv
		var filler string
		var once sync.Once
		srv.setHook(func(total int) {
			if total == 50 {
				once.Do(func() { filler = fill(t, dir, 0) })
			}
		})
		errOut, err := s.send(srv)
		sentBefore := c.count()
		if err == nil {
			t.Fatalf("send with the disk full from message 50 succeeded (%d received)", sentBefore)
		}
		msg := lastLine(errOut)
		t.Logf("disk full mid-send after %d messages: %s", sentBefore, msg)
		if !strings.Contains(msg, "full") {
			t.Fatalf("error %q does not say the disk is full", msg)
		}
		os.Remove(filler)
		readLedger(t, s.db).checkWhole(t, n)
		if errOut, err := s.send(srv); err != nil {
			t.Fatalf("send after the fault: %v\n%s", err, errOut)
		}
		dups := c.check(t, n, 4)
		t.Logf("FIGURES drill=storage fault=disk-full-mid-send messages=%d before_fault=%d duplicates=%d", n, sentBefore, dups)
	})

	t.Run("LockedBeforeSend", func(t *testing.T) {
		s := newSite(t)
		s.populate(n)
		srv := startSink(t, true)
		c := srv
		release := holdLock(t, s.db)
		start := time.Now()
		errOut, err := s.send(srv)
		waited := time.Since(start)
		release()
		if err == nil {
			t.Fatal("send succeeded while another process held the write lock")
		}
		msg := lastLine(errOut)
		t.Logf("locked (after %s): %s", waited.Round(time.Millisecond), msg)
		if !strings.Contains(msg, "locked") {
			t.Fatalf("error %q does not say the database is locked", msg)
		}
		if c.count() != 0 {
			t.Fatalf("%d messages sent", c.count())
		}
		readLedger(t, s.db).checkWhole(t, n)
		if errOut, err := s.send(srv); err != nil {
			t.Fatalf("send after the fault: %v\n%s", err, errOut)
		}
		c.check(t, n, 0)
	})

	t.Run("LockedMidSend", func(t *testing.T) {
		s := newSite(t)
		s.populate(n)
		srv := startSink(t, true)
		c := srv
		var release func()
		var once sync.Once
		srv.setHook(func(total int) {
			if total == 50 {
				once.Do(func() { release = holdLock(t, s.db) })
			}
		})
		errOut, err := s.send(srv)
		release()
		sentBefore := c.count()
		if err == nil {
			t.Fatalf("send succeeded while another process held the write lock from message 50 on")
		}
		msg := lastLine(errOut)
		t.Logf("locked mid-send after %d messages: %s", sentBefore, msg)
		if !strings.Contains(msg, "locked") {
			t.Fatalf("error %q does not say the database is locked", msg)
		}
		readLedger(t, s.db).checkWhole(t, n)
		if errOut, err := s.send(srv); err != nil {
			t.Fatalf("send after the fault: %v\n%s", err, errOut)
		}
		dups := c.check(t, n, 4)
		t.Logf("FIGURES drill=storage fault=locked-mid-send messages=%d before_fault=%d duplicates=%d", n, sentBefore, dups)
	})
}

// holdLock starts a second process (this test binary as a helper) that
// holds a write transaction on the database until release is called.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c := exec.CommandContext(ctx, exe)
	c.Env = append(os.Environ(), "DRILL_HELPER=lock", "DRILL_DB="+path)
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		c.Wait()
		cancel()
		t.Fatalf("lock helper: %q: %s", line, errb.String())
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			stdin.Close()
			go io.Copy(io.Discard, stdout)
			c.Wait()
			cancel()
		})
	}
	t.Cleanup(release)
	return release
}
