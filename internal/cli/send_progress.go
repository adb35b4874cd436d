package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"bothsides/delivery"
)

// watchProgress shows a send's progress until the returned stop is called:
// a bar redrawn in place when stderr is a terminal, otherwise a structured
// log line every 10 seconds. Call it before the sender is made: on a
// terminal it routes the log through the bar so that log lines do not land
// in the middle of it.
func (a *app) watchProgress(date string, progress func() delivery.Progress) (stop func()) {
	var bar *barWriter
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = &barWriter{w: f}
		level := slog.LevelInfo
		if a.cfg.Verbose {
			level = slog.LevelDebug
		}
		a.log = slog.New(slog.NewTextHandler(bar, &slog.HandlerOptions{Level: level}))
	}
	every := 10 * time.Second
	if bar != nil {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					if p := progress(); p.Total > 0 {
						bar.draw(progressBar(date, p, 24))
					}
					bar.finish()
				}
				return
			case <-t.C:
				p := progress()
				if p.Total == 0 {
					continue
				}
				if bar != nil {
					bar.draw(progressBar(date, p, 24))
				} else {
					a.log.Info("progress", "edition", date, "sent", p.Sent, "failed", p.Failed, "skipped", p.Skipped,
						"pending", p.Pending, "total", p.Total, "rate", fmt.Sprintf("%.0f/s", p.Rate()), "eta", fmtDuration(p.ETA()))
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// barWriter is a terminal with a progress bar on its last line: text
// written to it goes above the bar.
type barWriter struct {
	mu  sync.Mutex
	w   io.Writer
	bar string
}

func (b *barWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != "" {
		io.WriteString(b.w, "\r\033[K")
	}
	n, err := b.w.Write(p)
	if b.bar != "" {
		io.WriteString(b.w, b.bar)
	}
	return n, err
}

// draw replaces the bar.
func (b *barWriter) draw(bar string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar = bar
	io.WriteString(b.w, "\r\033[K"+bar)
}

// finish leaves the last bar on its own line.
func (b *barWriter) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != "" {
		io.WriteString(b.w, "\n")
	}
	b.bar = ""
}

// progressBar renders one line: the bar, counts, rate and time left.
func progressBar(date string, p delivery.Progress, width int) string {
	done := p.Sent + p.Failed + p.Skipped
	frac := 0.0
	if p.Total > 0 {
		frac = float64(done) / float64(p.Total)
	}
	fill := int(frac * float64(width))
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s%s] %3d%% %d/%d sent", date, strings.Repeat("#", fill), strings.Repeat("-", width-fill),
		int(frac*100), p.Sent, p.Total)
	if p.Failed > 0 {
		fmt.Fprintf(&b, ", %d failed", p.Failed)
	}
	if p.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", p.Skipped)
	}
	fmt.Fprintf(&b, "  %.0f msg/s", p.Rate())
	if eta := p.ETA(); eta > 0 {
		fmt.Fprintf(&b, "  ETA %s", fmtDuration(eta))
	}
	return b.String()
}

// fmtDuration prints h:mm:ss or m:ss.
func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
