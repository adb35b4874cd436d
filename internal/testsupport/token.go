package testsupport

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// LegacyToken makes a link token in the first format, as bothsides mailed
// them before key ids and link generations: payload uvarint
// subscriber id, varint expiry (0: none), signed with secret (key 0). The
// tests of the upgrade use it to stand for links already in readers'
// mailboxes.
func LegacyToken(secret []byte, purpose string, id int64, expiresUnix int64) string {
	payload := binary.AppendUvarint(nil, uint64(id))
	payload = binary.AppendVarint(payload, expiresUnix)
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}
