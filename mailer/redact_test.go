package mailer_test

import (
	"testing"

	"bothsides/mailer"
)

func TestRedactAddresses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"smtp 550: rcpt: 550 5.1.1 <ana@example.com>: Recipient address rejected: User unknown",
			"smtp 550: rcpt: 550 5.1.1 <***@example.com>: Recipient address rejected: User unknown"},
		{"452 4.2.2 ana.b+news@mail.example.org mailbox full", "452 4.2.2 ***@mail.example.org mailbox full"},
		{`message to "zoë@exämple.de" withdrawn`, `message to "***@exämple.de" withdrawn`},
		{"550 to=<a@x.example>, from=<digest@news.example>", "550 to=<***@x.example>, from=<***@news.example>"},
		{"421 4.7.0 try again later", "421 4.7.0 try again later"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := mailer.RedactAddresses(tt.in); got != tt.want {
			t.Errorf("RedactAddresses(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}
