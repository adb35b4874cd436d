package mailer

import "regexp"

// address matches a mailbox address in free text, such as the one a relay
// echoes in `550 5.1.1 <ana@example.com>: Recipient address rejected`: the
// local part and the domain, each without spaces, brackets or quotes.
var address = regexp.MustCompile(`[^\s<>()\[\],;:"'@]+@([^\s<>()\[\],;:"'@]+)`)

// RedactAddresses replaces the local part of every address in s with
// "***", keeping the domain (which relay refused which provider is what an
// operator reads a log for). For logs and for text that outlives the
// subscriber; the ledger's own reply keeps the address.
func RedactAddresses(s string) string {
	return address.ReplaceAllString(s, "***@$1")
}

// RedactError is RedactAddresses of err's text; "" for nil.
func RedactError(err error) string {
	if err == nil {
		return ""
	}
	return RedactAddresses(err.Error())
}
