package bounce

import (
	"regexp"
	"strings"
)

// Classify returns the kind of a failed delivery from its enhanced status
// code (RFC 3463, "5.1.1") and the remote server's words, for reports that
// say the message was not delivered. The rules, from the most to the least
// specific:
//
//   - 4.x.x is soft: the server may take it later.
//   - 5.1.x (the address) is hard: 5.1.0, 5.1.1 no such user, 5.1.2 no such
//     domain, 5.1.3 bad address syntax, 5.1.4, 5.1.5, 5.1.6 moved, 5.1.9,
//     5.1.10 null MX; except 5.1.7 and 5.1.8, which are about our sender
//     address (soft).
//   - 5.2.1 mailbox disabled is hard; 5.2.2 mailbox full is soft; 5.2.3
//     message too long and 5.2.4 are about the message (soft).
//   - 5.3.x, 5.4.x (routing, network, a relay that gave up), 5.5.x, 5.6.x
//     and 5.7.x (policy: a spam rejection, a block of our server) are soft:
//     they say nothing certain about the reader's address. Soft bounces
//     suppress only when they persist (Config.SoftLimit).
//   - 5.0.0 or no enhanced code: hard when the words say the address does
//     not exist ("user unknown", "no such user", "does not exist" …),
//     soft otherwise.
func Classify(status, diagnostic string) Kind {
	class, subject, detail, ok := splitStatus(status)
	if !ok {
		// A basic SMTP reply code alone: 4xx is soft, 5xx goes by the words.
		if c := smtpCode(diagnostic); c != "" && c[0] == '4' {
			return KindSoft
		}
		return byWords(diagnostic)
	}
	switch {
	case class == "4":
		return KindSoft
	case class != "5":
		return KindSoft // 2.x.x in a failure report: not a known shape
	case subject == "1":
		if detail == "7" || detail == "8" {
			return KindSoft
		}
		return KindHard
	case subject == "2" && detail == "1":
		return KindHard
	case subject == "0":
		return byWords(diagnostic)
	}
	return KindSoft
}

var hardWords = regexp.MustCompile(`(?i)(user unknown|unknown user|no such user|no such (mailbox|recipient|address)|` +
	`does not exist|doesn't exist|not exist|mailbox unavailable|mailbox not found|invalid (recipient|mailbox|address)|` +
	`recipient (address )?rejected: (user unknown|unknown)|address rejected|account (has been )?(disabled|deactivated|closed)|` +
	`unrouteable address|doesn't have an? [^ ]+ account|no mailbox here|user not found|not our customer|mailbox is disabled)`)

func byWords(diagnostic string) Kind {
	if hardWords.MatchString(diagnostic) {
		return KindHard
	}
	return KindSoft
}

// enhancedCode finds an RFC 3463 status code: class 2, 4 or 5, a subject
// of one to three digits, a detail of one to three digits.
var enhancedCode = regexp.MustCompile(`(?:^|[^0-9.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:$|[^0-9.])`)

// basicCode finds an SMTP reply code at the start of a reply line.
var basicCode = regexp.MustCompile(`(?:^|[^0-9.])([45][0-5][0-9])(?:[ -]|$)`)

// findStatus returns the first enhanced status code in s, or "".
func findStatus(s string) string {
	if m := enhancedCode.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// smtpCode returns the first basic SMTP reply code in s, or "".
func smtpCode(s string) string {
	if m := basicCode.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// splitStatus reads "5.1.1" (and "5.1.1 (comment)").
func splitStatus(s string) (class, subject, detail string, ok bool) {
	s = findStatus(strings.TrimSpace(s))
	if s == "" {
		return "", "", "", false
	}
	parts := strings.SplitN(s, ".", 3)
	return parts[0], strings.TrimLeft(parts[1], "0") + zeroIfEmpty(parts[1]), strings.TrimLeft(parts[2], "0") + zeroIfEmpty(parts[2]), true
}

// zeroIfEmpty keeps "0" a zero once its leading zeros are trimmed.
func zeroIfEmpty(s string) string {
	if strings.Trim(s, "0") == "" {
		return "0"
	}
	return ""
}
