package main

import (
	"fmt"

	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"bothsides/digest"
)

// watchProgress shows a send's progress until the returned stop is called:
// a bar redrawn in place when stderr is a terminal, otherwise a structured
// log line every 10 seconds.
func (a *app) watchProgress(date string, s *digest.Sender) (stop func()) {
	tty := false
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	every := 10 * time.Second
	if tty {
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
				if tty {
					fmt.Fprintf(a.stderr, "\r\033[K%s\n", progressBar(date, s.Progress(), 24))
				}
				return
			case <-t.C:
				p := s.Progress()
				if p.Total == 0 {
					continue
				}
				if tty {
					fmt.Fprintf(a.stderr, "\r\033[K%s", progressBar(date, p, 24))
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

// progressBar renders one line: the bar, counts, rate and time left.
func progressBar(date string, p digest.Progress, width int) string {
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
