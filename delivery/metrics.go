package delivery

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sender's Prometheus metrics. A nil *Metrics counts
// nothing.
type Metrics struct {
	sent, failed, retried, skipped prometheus.Counter
	latency                        prometheus.Histogram
	queue                          prometheus.Gauge
}

// NewMetrics creates the sender's metrics and registers them with reg:
// bothsides_messages_sent_total, _failed_total, _retried_total,
// _skipped_total, bothsides_send_duration_seconds (one SMTP transaction)
// and bothsides_queue_depth (deliveries not yet settled).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bothsides_messages_sent_total", Help: "Messages the relay accepted.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bothsides_messages_failed_total", Help: "Messages given up on: permanent failures and exhausted retries.",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bothsides_messages_retried_total", Help: "Temporary failures queued for another attempt.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bothsides_messages_skipped_total", Help: "Deliveries not sent because the subscriber left meanwhile.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bothsides_send_duration_seconds",
			Help:    "Time of one SMTP transaction (MAIL, RCPT, DATA), including a dial when needed.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bothsides_queue_depth", Help: "Deliveries of the edition being sent that are not settled yet.",
		}),
	}
	reg.MustRegister(m.sent, m.failed, m.retried, m.skipped, m.latency, m.queue)
	return m
}

func (m *Metrics) observe(t tally) {
	if m == nil {
		return
	}
	m.sent.Add(float64(t.sent))
	m.failed.Add(float64(t.failed))
	m.retried.Add(float64(t.retried))
	m.skipped.Add(float64(t.skipped))
	for _, d := range t.latencies {
		m.latency.Observe(d.Seconds())
	}
}

func (m *Metrics) setQueue(n int) {
	if m == nil {
		return
	}
	m.queue.Set(float64(n))
}
