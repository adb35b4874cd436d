package testsupport

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMRecord is the DNS TXT record that publishes pub.
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("dkim record: key type %T", pub)
}

// VerifyDKIM checks every DKIM signature of raw with an independent
// verifier (emersion/go-msgauth), looking the key up as if DNS published
// pub at selector._domainkey.domain. It returns the verifications, or an
// error when there is none or any fails.
func VerifyDKIM(raw []byte, selector, domain string, pub crypto.PublicKey) ([]*dkim.Verification, error) {
	rec, err := DKIMRecord(pub)
	if err != nil {
		return nil, err
	}
	want := selector + "._domainkey." + domain
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != want {
				return nil, fmt.Errorf("no TXT record for %s", name)
			}
			return []string{rec}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("no DKIM signature")
	}
	for _, v := range vs {
		if v.Err != nil {
			return vs, fmt.Errorf("dkim %s: %w", v.Domain, v.Err)
		}
	}
	return vs, nil
}
