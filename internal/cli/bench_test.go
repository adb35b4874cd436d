package cli

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBench runs the bench command on a few subscribers: it must send them
// all through the three phases of each pair and print each pair's row and
// the medians (the rates themselves are not checked).
func TestBench(t *testing.T) {
	c := newCLI(t)
	c.clock.Set(time.Now().UTC())

	t.Run("Pairs", func(t *testing.T) {
		out := c.must("", "bench", "--subscribers", "30,60", "--connections", "2")
		if !strings.Contains(out, "10-story edition, 2 connections, 3 pairs") || !strings.Contains(out, ", direct,") {
			t.Fatalf("bench output:\n%s", out)
		}
		checkBenchTable(t, out, []int{30, 60}, 3)
	})
	t.Run("RTT", func(t *testing.T) {
		start := time.Now()
		out := c.must("", "bench", "--subscribers", "20", "--connections", "2", "--pairs", "2", "--rtt", "2ms")
		if !strings.Contains(out, "2 pairs") || !strings.Contains(out, "rtt 2ms through a delaying proxy") {
			t.Fatalf("bench output:\n%s", out)
		}
		checkBenchTable(t, out, []int{20}, 2)
		// At least the plain client's four round trips per message, over
		// two connections, in each of the two pairs.
		if min := 2 * 20 / 2 * 4 * 2 * time.Millisecond; time.Since(start) < min {
			t.Fatalf("bench --rtt 2ms took %s, want at least %s", time.Since(start), min)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, tc := range []struct{ flag, value string }{
			{"--subscribers", "ten"}, {"--pairs", "0"}, {"--rtt", "-1ms"},
		} {
			if _, _, err := c.run("", "bench", tc.flag, tc.value); err == nil || !strings.Contains(err.Error(), tc.flag) {
				t.Errorf("bench %s %s: %v", tc.flag, tc.value, err)
			}
		}
	})
}

// checkBenchTable checks that out has, for each size, pairs numbered rows
// of 15 columns and a median row whose ratio and rates are the medians of
// the rows above it, and a summary line per size.
func checkBenchTable(t *testing.T, out string, sizes []int, pairs int) {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 15 && f[0] != "subscribers" {
			rows = append(rows, f)
		}
	}
	if got, want := len(rows), len(sizes)*(pairs+1); got != want {
		t.Fatalf("%d rows, want %d:\n%s", got, want, out)
	}
	for i, n := range sizes {
		group := rows[i*(pairs+1) : (i+1)*(pairs+1)]
		for p, f := range group {
			label := strconv.Itoa(p + 1)
			if p == pairs {
				label = "median"
			}
			if f[0] != strconv.Itoa(n) || f[1] != label {
				t.Fatalf("row %v: want subscribers %d, pair %s", f, n, label)
			}
		}
		for _, col := range []int{3, 4, 5, 6, 7, 11} { // rates and ratios
			var v []float64
			for _, f := range group[:pairs] {
				x, err := strconv.ParseFloat(f[col], 64)
				if err != nil || x <= 0 {
					t.Fatalf("row %v column %d: %q", f, col, f[col])
				}
				v = append(v, x)
			}
			got, _ := strconv.ParseFloat(group[pairs][col], 64)
			slices.Sort(v)
			want := v[len(v)/2]
			if len(v)%2 == 0 {
				want = (v[len(v)/2-1] + v[len(v)/2]) / 2
			}
			// The median of the unrounded figures, printed rounded: msg/s
			// to the unit, ratios to the hundredth.
			tol := 1.0
			if col == 6 || col == 7 || col == 11 {
				tol = 0.011
			}
			if got < want-tol || got > want+tol {
				t.Errorf("%d subscribers column %d: median %v, want the median of %v", n, col, got, v)
			}
		}
		if !strings.Contains(out, "  "+strconv.Itoa(n)+": peak ") {
			t.Errorf("no summary line for %d:\n%s", n, out)
		}
	}
}

// TestBenchDelayProxy: bytes pass intact both ways, and a round trip takes at
// least twice the delay.
func TestBenchDelayProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an echo server
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				c.Close()
			}()
		}
	}()
	const delay = 25 * time.Millisecond
	p, err := startDelayProxy(ln.Addr().String(), delay)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("Delay", func(t *testing.T) {
		start := time.Now()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 'x' {
			t.Fatalf("echo %q, %v", b, err)
		}
		if got := time.Since(start); got < 2*delay {
			t.Fatalf("round trip %s, want at least %s", got, 2*delay)
		}
	})
	t.Run("Intact", func(t *testing.T) {
		data := make([]byte, 3<<20+7) // many chunks
		rand.Read(data)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			errc <- err
		}()
		got, err := io.ReadAll(c) // to the end: the close passed both ways
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes back, want the %d sent, unchanged", len(got), len(data))
		}
	})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBenchMedian: the middle value, or the mean of the middle two.
func TestBenchMedian(t *testing.T) {
	f := func(p benchPair) float64 { return p.freeze.Seconds() }
	pairs := func(s ...float64) []benchPair {
		var out []benchPair
		for _, x := range s {
			out = append(out, benchPair{freeze: time.Duration(x * float64(time.Second))})
		}
		return out
	}
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(pairs(tc.in...), f); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
