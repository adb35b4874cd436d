// Package templates embeds every template bothsides renders: the digest mail
// (HTML and plain text) and the web pages. They are parsed once at start by
// the packages that render them, so a broken template fails start-up.
package templates

import "embed"

// FS holds email/*.html, email/*.txt and web/*.html.
//
//go:embed email web
var FS embed.FS
