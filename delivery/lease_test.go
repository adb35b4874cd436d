package delivery_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"bothsides/delivery"
)

func TestAcquireLease(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "bothsides.db")
	t.Run("Exclusive", func(t *testing.T) {
		l, err := delivery.AcquireLease(dbPath, 7)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := delivery.AcquireLease(dbPath, 7); !errors.Is(err, delivery.ErrLeased) {
			t.Fatalf("second lease: %v, want ErrLeased", err)
		}
		other, err := delivery.AcquireLease(dbPath, 8)
		if err != nil {
			t.Fatalf("another edition's lease: %v", err)
		}
		other.Release(true)
		l.Release(false)
		l, err = delivery.AcquireLease(dbPath, 7)
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		l.Release(true)
		if _, err := os.Stat(delivery.LeasePath(dbPath, 7)); !os.IsNotExist(err) {
			t.Fatalf("lock file not removed: %v", err)
		}
	})
	t.Run("ReleasedWhenHolderIsKilled", func(t *testing.T) {
		// Another process takes the lease and is killed with SIGKILL: the
		// kernel releases its lock at once, with no expiry to wait out.
		cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseHolderProcess$")
		cmd.Env = append(os.Environ(), "BOTHSIDES_TEST_LEASE="+dbPath)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "leased\n" {
			cmd.Process.Kill()
			t.Fatalf("helper said %q, %v", line, err)
		}
		if _, err := delivery.AcquireLease(dbPath, 9); !errors.Is(err, delivery.ErrLeased) {
			cmd.Process.Kill()
			t.Fatalf("while the helper holds it: %v, want ErrLeased", err)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		l, err := delivery.AcquireLease(dbPath, 9)
		if err != nil {
			t.Fatalf("after the holder was killed: %v", err)
		}
		l.Release(true)
	})
}

// TestLeaseHolderProcess is the helper process of ReleasedWhenHolderIsKilled:
// it takes edition 9's lease, says so, and waits to be killed.
func TestLeaseHolderProcess(t *testing.T) {
	dbPath := os.Getenv("BOTHSIDES_TEST_LEASE")
	if dbPath == "" {
		t.Skip("helper process only")
	}
	if _, err := delivery.AcquireLease(dbPath, 9); err != nil {
		os.Stdout.WriteString("error " + strconv.Quote(err.Error()) + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("leased\n")
	select {}
}

func TestSender_Send_LeaseContention(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 8)
	s1 := f.sender(t, delivery.Config{Connections: 2}, nil)
	s2 := f.sender(t, delivery.Config{Connections: 2}, nil)
	release := make(chan struct{})
	first := make(chan struct{}, 1)
	f.srv.Accepted = func([]string) {
		select {
		case first <- struct{}{}:
			<-release // hold the first sender mid-edition
		default:
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := s1.Send(ctx, f.e)
		done <- err
	}()
	<-first
	if _, err := s2.Send(ctx, f.e); !errors.Is(err, delivery.ErrLeased) {
		t.Fatalf("second sender: %v, want ErrLeased", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, e := range f.emails {
		if got := f.received()[e]; got != 1 {
			t.Fatalf("%s received %d copies", e, got)
		}
	}
}
