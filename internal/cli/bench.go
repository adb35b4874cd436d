package cli

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"bothsides/delivery"
	"bothsides/internal/smtpsink"
)

// benchOptions are bench's flags.
type benchOptions struct {
	Subscribers string
	Stories     int
	Pairs       int
	RTT         time.Duration
	DKIM        bool
	CPUProfile  string
	Sink        string
}

func benchCommand() *command {
	var o benchOptions
	return &command{
		name:    "bench",
		summary: "measure the send pipeline against raw SMTP clients on loopback",
		help: `Creates a database in a temporary folder with the sample stories and N
synthetic subscribers, starts an SMTP sink on 127.0.0.1, and sends a real
edition (--stories, default 10) through the full pipeline: the audience
freeze, ledger, rendering, the pre-encoded message, go-mail over
--connections connections. Against it, over as many connections, it sends
as many copies of one pre-rendered message of the same edition with two
minimal raw SMTP clients: the pipelined one (MAIL, RCPT and DATA in one
write, the message and its end in one write), the baseline, and the plain
one that waits for each reply. It runs the three phases --pairs times,
alternating their order, and prints each pair's rates, ratios, CPU time
per message and peak memory (VmHWM), then their medians. --rtt puts a
delaying TCP proxy between both sides and the sink. --subscribers takes a
comma-separated list to show how memory grows with N. Nothing leaves the
machine; the database and sink are removed afterwards.`,
		settings: []setting{
			stringSetting(&o.Subscribers, "subscribers", "", "10000", "subscribers to send to; a comma-separated list runs each size"),
			intSetting(&o.Stories, "stories", "", 10, "top stories in the edition"),
			intSetting(&o.Pairs, "pairs", "", 3, "rounds of the three phases, their order alternated; medians are over them"),
			durationSetting(&o.RTT, "rtt", "", 0, "round-trip time a delaying proxy adds between the clients and the sink (half each way), e.g. 10ms; 0 connects directly"),
			boolSetting(&o.DKIM, "dkim", "", false, "DKIM-sign every pipeline message with a fresh RSA-2048 key"),
			stringSetting(&o.Sink, "sink", "", "fast", "the SMTP sink: `fast`, a minimal server that reads every message whole at little cost, or `go-smtp`, the tests' server, which reads a message a byte at a time and then takes most of the CPU"),
			stringSetting(&o.CPUProfile, "cpuprofile", "", "", "write a CPU profile of the whole run to this file (go tool pprof)"),
		},
		run: func(ctx context.Context, a *app, args []string) error { return runBench(ctx, a, &o) },
	}
}

// benchPhase is one phase's wall time, CPU time of the process (sink and
// proxy included) and peak resident memory.
type benchPhase struct {
	wall, cpu time.Duration
	peak      int64
}

// benchPair is one round of the three phases. The pipeline's wall time
// includes the freeze, which is also given alone.
type benchPair struct {
	freeze                     time.Duration
	pipeline, pipelined, plain benchPhase
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runBench(ctx context.Context, a *app, o *benchOptions) error {
	var sizes []int
	for _, f := range strings.Split(o.Subscribers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: --subscribers %q: want positive whole numbers separated by commas", errUsage, f)
		}
		sizes = append(sizes, n)
	}
	if a.cfg.Connections < 1 {
		return fmt.Errorf("%w: --connections %d: want at least 1", errUsage, a.cfg.Connections)
	}
	if o.Pairs < 1 {
		return fmt.Errorf("%w: --pairs %d: want at least 1", errUsage, o.Pairs)
	}
	if o.RTT < 0 {
		return fmt.Errorf("%w: --rtt %s: want 0 or more", errUsage, o.RTT)
	}
	if path := o.CPUProfile; path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.Sink != "fast" && o.Sink != "go-smtp" {
		return fmt.Errorf("%w: --sink %q: want fast or go-smtp", errUsage, o.Sink)
	}
	sink, err := startSink(o.Sink == "fast")
	if err != nil {
		return err
	}
	defer sink.Close()
	addr, path := sink.Addr, "direct"
	if o.RTT > 0 {
		p, err := startDelayProxy(sink.Addr, o.RTT/2)
		if err != nil {
			return err
		}
		defer p.Close()
		addr, path = p.Addr, fmt.Sprintf("rtt %s through a delaying proxy on %s", o.RTT, p.Addr)
	}
	fmt.Fprintf(a.stdout, "bench: %d-story edition, %d connections, %d pairs, %s SMTP sink on %s, %s, GOMAXPROCS=%d\n",
		o.Stories, a.cfg.Connections, o.Pairs, o.Sink, sink.Addr, path, runtime.GOMAXPROCS(0))
	fmt.Fprintln(a.stdout, "pipeline: the full send, freeze included; pipelined: raw client with PIPELINING (the baseline); plain: raw client waiting for each reply")
	fmt.Fprintln(a.stdout, "ratio: pipeline / pipelined rate, vs-plain: pipeline / plain rate, cpu-x: pipeline / pipelined CPU, each pair by pair; CPU and peak memory are the process's, sink and proxy included")
	var summary []string
	for _, n := range sizes {
		pairs, b, err := benchSizeRun(ctx, a, o, sink, addr, n)
		if err != nil {
			return err
		}
		var peak int64
		for _, p := range pairs {
			peak = max(peak, p.pipeline.peak, p.pipelined.peak, p.plain.peak)
		}
		freeze := median(pairs, func(p benchPair) float64 { return p.freeze.Seconds() })
		summary = append(summary, fmt.Sprintf("%d: peak %.1f MB, freeze %.2f s (%.1f µs/row), %d-byte message, subscribers written in %.1f s",
			n, mb(peak), freeze, 1e6*freeze/float64(n), len(b.msg), b.insert.Seconds()))
	}
	fmt.Fprintln(a.stdout, "summary (largest peak of any phase, median freeze):")
	for _, s := range summary {
		fmt.Fprintln(a.stdout, "  "+s)
	}
	return nil
}

// benchHeader and benchRow lay out the table; the header is printed once
// per size.
const (
	benchHeader = "%11s %6s %8s %9s %9s %9s %6s %8s %9s %9s %9s %6s %8s %8s %8s\n"
	benchRow    = "%11d %6s %8.2f %9.0f %9.0f %9.0f %6.2f %8.2f %9.0f %9.0f %9.0f %6.2f %8.1f %8.1f %8.1f\n"
)

// benchSizeRun builds n subscribers' database and runs the pairs, printing
// each and the medians.
func benchSizeRun(ctx context.Context, a *app, o *benchOptions, sink *smtpsink.Server, addr string, n int) ([]benchPair, *benchSize, error) {
	b, err := newBenchSize(ctx, a, o, addr, n)
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	fmt.Fprintf(a.stderr, "bench: %d subscribers written in %.1f s\n", n, b.insert.Seconds())
	fmt.Fprintf(a.stdout, benchHeader, "subscribers", "pair", "freeze s", "pipeline", "pipelined", "plain", "ratio", "vs-plain",
		"pipeline", "pipelined", "plain", "cpu-x", "pipeline", "pipelined", "plain")
	fmt.Fprintf(a.stdout, benchHeader, "", "", "", "msg/s", "msg/s", "msg/s", "", "", "µs/msg", "µs/msg", "µs/msg", "", "peak MB", "peak MB", "peak MB")
	var pairs []benchPair
	for p := range o.Pairs {
		var pr benchPair
		phases := []func() error{
			func() (err error) { pr.pipeline, pr.freeze, err = benchPipeline(ctx, a, b, sink, p); return err },
			func() (err error) { pr.pipelined, err = benchRaw(ctx, a, b, sink, addr, p, true); return err },
			func() (err error) { pr.plain, err = benchRaw(ctx, a, b, sink, addr, p, false); return err },
		}
		if p%2 == 1 { // every other pair the other way round
			slices.Reverse(phases)
		}
		for _, f := range phases {
			if err := f(); err != nil {
				return nil, nil, err
			}
		}
		pairs = append(pairs, pr)
		printBenchRow(a, n, strconv.Itoa(p+1), func(f func(benchPair) float64) float64 { return f(pr) })
	}
	printBenchRow(a, n, "median", func(f func(benchPair) float64) float64 { return median(pairs, f) })
	return pairs, b, nil
}

// printBenchRow prints one row; at gives each column's figure from a
// function of one pair (that pair's, or the median over the pairs).
func printBenchRow(a *app, n int, label string, at func(func(benchPair) float64) float64) {
	rate := func(ph func(benchPair) benchPhase) func(benchPair) float64 {
		return func(p benchPair) float64 { return float64(n) / ph(p).wall.Seconds() }
	}
	cpu := func(ph func(benchPair) benchPhase) func(benchPair) float64 {
		return func(p benchPair) float64 { return float64(ph(p).cpu.Microseconds()) / float64(n) }
	}
	peak := func(ph func(benchPair) benchPhase) func(benchPair) float64 {
		return func(p benchPair) float64 { return mb(ph(p).peak) }
	}
	pipe := func(p benchPair) benchPhase { return p.pipeline }
	piped := func(p benchPair) benchPhase { return p.pipelined }
	plain := func(p benchPair) benchPhase { return p.plain }
	fmt.Fprintf(a.stdout, benchRow, n, label,
		at(func(p benchPair) float64 { return p.freeze.Seconds() }),
		at(rate(pipe)), at(rate(piped)), at(rate(plain)),
		at(func(p benchPair) float64 { return p.pipelined.wall.Seconds() / p.pipeline.wall.Seconds() }),
		at(func(p benchPair) float64 { return p.plain.wall.Seconds() / p.pipeline.wall.Seconds() }),
		at(cpu(pipe)), at(cpu(piped)), at(cpu(plain)),
		at(func(p benchPair) float64 { return p.pipeline.cpu.Seconds() / p.pipelined.cpu.Seconds() }),
		at(peak(pipe)), at(peak(piped)), at(peak(plain)))
}

// median is the median of f over the pairs; with an even count, the mean
// of the middle two.
func median(pairs []benchPair, f func(benchPair) float64) float64 {
	v := make([]float64, len(pairs))
	for i, p := range pairs {
		v[i] = f(p)
	}
	slices.Sort(v)
	if m := len(v) / 2; len(v)%2 == 0 {
		return (v[m-1] + v[m]) / 2
	}
	return v[len(v)/2]
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// benchPipeline sends pair p's edition through the sender: the freeze
// (Start's ledger insert) timed on its own, then Send.
func benchPipeline(ctx context.Context, a *app, b *benchSize, sink *smtpsink.Server, p int) (benchPhase, time.Duration, error) {
	e, err := b.edition(ctx, p)
	if err != nil {
		return benchPhase{}, 0, err
	}
	settle()
	sink.Reset()
	var ph benchPhase
	var freeze time.Duration
	var st delivery.Stats
	start, cpu := time.Now(), cpuTime()
	// Profile labels tell the phases apart in --cpuprofile (pprof -tagfocus).
	pprof.Do(ctx, pprof.Labels("phase", "pipeline"), func(ctx context.Context) {
		var created int64
		if created, err = b.sender.Start(ctx, e); err != nil {
			return
		}
		freeze = time.Since(start)
		// Printed now, before the watcher writes to stderr too.
		fmt.Fprintf(a.stderr, "bench: %d pair %d: freeze of %d rows in %.2f s\n", b.n, p+1, created, freeze.Seconds())
		if created != int64(b.n) {
			err = fmt.Errorf("bench: the freeze queued %d, want %d", created, b.n)
			return
		}
		stop := watchPhase(a, sink, fmt.Sprintf("%d pair %d pipeline", b.n, p+1))
		defer stop()
		st, err = b.sender.Send(ctx, e) // Start again inside is a no-op
	})
	ph.wall, ph.cpu, ph.peak = time.Since(start), cpuTime()-cpu, peakRSS()
	if err != nil {
		return ph, freeze, err
	}
	if st.Sent != b.n || sink.Count() != b.n {
		return ph, freeze, fmt.Errorf("bench: pipeline sent %d, sink got %d, want %d", st.Sent, sink.Count(), b.n)
	}
	return ph, freeze, nil
}

// benchRaw sends the n copies with a raw client.
func benchRaw(ctx context.Context, a *app, b *benchSize, sink *smtpsink.Server, addr string, p int, pipelined bool) (benchPhase, error) {
	settle()
	sink.Reset()
	label := "plain"
	if pipelined {
		label = "pipelined"
	}
	var ph benchPhase
	var err error
	defer watchPhase(a, sink, fmt.Sprintf("%d pair %d %s", b.n, p+1, label))()
	start, cpu := time.Now(), cpuTime()
	pprof.Do(ctx, pprof.Labels("phase", label), func(ctx context.Context) {
		err = rawSend(ctx, addr, a.cfg.Connections, b.n, pipelined, benchFrom, b.msg)
	})
	ph.wall, ph.cpu, ph.peak = time.Since(start), cpuTime()-cpu, peakRSS()
	if err != nil {
		return ph, fmt.Errorf("bench: %s raw client: %w", label, err)
	}
	if sink.Count() != b.n {
		return ph, fmt.Errorf("bench: %s raw client: sink got %d, want %d", label, sink.Count(), b.n)
	}
	return ph, nil
}

// benchProgress is how often a phase reports its progress on stderr.
const benchProgress = 30 * time.Second

// watchPhase reports on stderr, every benchProgress until the returned stop
// is called, how many messages the sink has and the peak memory so far: a
// million readers take a while.
func watchPhase(a *app, sink *smtpsink.Server, label string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(benchProgress)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(a.stderr, "bench: %s: %d sent in %s, peak %.1f MB\n", label, sink.Count(),
					time.Since(start).Round(time.Second), mb(peakRSS()))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// settle returns freed memory to the OS and restarts the peak RSS count,
// so that each phase's peak is its own.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM (Linux)
}

// peakRSS is VmHWM from /proc/self/status in bytes, or 0 where unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startSink starts an SMTP server on 127.0.0.1 that counts and discards
// messages.
func startSink(fast bool) (*smtpsink.Server, error) {
	s, err := smtpsink.Listen(smtpsink.Config{Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	// The fast server reads every message whole but not a byte at a time
	// as go-smtp does, which took some 90 % of a run's CPU time: what is
	// left is mostly the clients' (smtpsink/fast.go).
	s.CountOnly, s.Fast = true, fast
	go s.Serve()
	return s, nil
}
