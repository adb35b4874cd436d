package bounce

import "github.com/prometheus/client_golang/prometheus"

// IntakeMetrics count what the SMTP listener and the mailbox poller take
// in. A nil *IntakeMetrics counts nothing.
type IntakeMetrics struct {
	messages *prometheus.CounterVec
	refusals *prometheus.CounterVec
	polls    *prometheus.CounterVec
}

// NewIntakeMetrics creates the intakes' metrics and registers them with
// reg: bothsides_bounce_messages_total{source, result} (result recorded,
// unparsed, error, or for the mailbox skipped: a message left in place),
// bothsides_bounce_refused_total{reason} (the listener's refusals:
// recipient, size, connection) and bothsides_bounce_polls_total{result}
// (the mailbox's polls: ok or error).
func NewIntakeMetrics(reg prometheus.Registerer) *IntakeMetrics {
	m := &IntakeMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bothsides_bounce_messages_total", Help: "Messages taken in for the bounce address, by source (smtp, imap) and result (recorded, unparsed, error, skipped).",
		}, []string{"source", "result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bothsides_bounce_refused_total", Help: "What the bounce listener refused, by reason (recipient, size, connection).",
		}, []string{"reason"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bothsides_bounce_polls_total", Help: "Polls of the bounce mailbox, by result (ok, error).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.messages, m.refusals, m.polls)
	return m
}

func (m *IntakeMetrics) received(source, result string) {
	if m != nil {
		m.messages.WithLabelValues(source, result).Inc()
	}
}

func (m *IntakeMetrics) refused(reason string) {
	if m != nil {
		m.refusals.WithLabelValues(reason).Inc()
	}
}

func (m *IntakeMetrics) polled(result string) {
	if m != nil {
		m.polls.WithLabelValues(result).Inc()
	}
}
