package bounce_test

import (
	"context"
	"fmt"
	"testing"

	"bothsides/bounce"
)

// BenchmarkParseMessage parses each sample.
func BenchmarkParseMessage(b *testing.B) {
	for _, tc := range samples {
		raw := crlf(readSample(b, tc.file))
		b.Run(tc.file, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := bounce.ParseMessage(raw, tc.envelopeTo); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStore_Receive records a matched hard bounce per iteration, each
// a different report (so none is a duplicate), into a real database.
func BenchmarkStore_Receive(b *testing.B) {
	f := newFixture(b, bounce.Config{BounceLimit: 1 << 30}).store
	raw := readSample(b, "postfix_dsn.eml")
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		msg := append(fmt.Appendf(nil, "X-Seq: %d\r\n", i), raw...)
		if _, err := f.Receive(ctx, "smtp", "bounces+"+tok1+"@bounce.example.com", msg); err != nil {
			b.Fatal(err)
		}
	}
}
