package mailer

import (
	"crypto/rand"
	"encoding/hex"
)

// NewMessageID returns a random Message-ID on the sender's domain.
func NewMessageID(from string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b) + "@" + Domain(from)
}
