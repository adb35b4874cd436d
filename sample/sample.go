// Package sample holds the demo's sample stories, written for bothsides.
package sample

import (
	_ "embed"
)

// Stories is an import file of sample stories dated late November 2026;
// the demo shifts their times to today.
//
//go:embed stories.json
var Stories []byte
