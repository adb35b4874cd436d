package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"bothsides/cluster"
)

// setting is one configuration value, declared once: its flag, environment
// variable, default and meaning, bound to a typed field. A setting not given
// on the command line takes its environment variable, else its default.
type setting struct {
	name  string // the flag without dashes: "addr"
	env   string // the environment variable; empty for a flag alone
	usage string // the meaning, a sentence fragment; `code` is Markdown
	// docDefault replaces the default in the generated docs ("From's
	// domain"); empty shows the flag's default.
	docDefault string
	// bind registers the typed flag (and so sets its field to the default).
	bind func(fs *flag.FlagSet, usage string)
	// want says what a bad environment value should be; ok, when set,
	// refuses values the flag's parser takes but the variable must not have.
	want string
	ok   func() bool
}

// The constructors below bind a setting to a field of their type; env may
// be empty for a flag alone.

func stringSetting(dst *string, name, env, def, usage string) setting {
	return setting{name: name, env: env, usage: usage,
		bind: func(fs *flag.FlagSet, u string) { fs.StringVar(dst, name, def, u) }}
}

func boolSetting(dst *bool, name, env string, def bool, usage string) setting {
	return setting{name: name, env: env, usage: usage, want: "true or false",
		bind: func(fs *flag.FlagSet, u string) { fs.BoolVar(dst, name, def, u) }}
}

// intSetting takes a whole number; from the environment, not a negative one.
func intSetting(dst *int, name, env string, def int, usage string) setting {
	return setting{name: name, env: env, usage: usage, want: "a whole number",
		ok:   func() bool { return *dst >= 0 },
		bind: func(fs *flag.FlagSet, u string) { fs.IntVar(dst, name, def, u) }}
}

func floatSetting(dst *float64, name, env string, def float64, usage string) setting {
	return setting{name: name, env: env, usage: usage, want: "a number",
		bind: func(fs *flag.FlagSet, u string) { fs.Float64Var(dst, name, def, u) }}
}

// stringsSetting takes a flag that may be given many times, each value
// appended (no environment variable).
func stringsSetting(dst *[]string, name, usage string) setting {
	return setting{name: name, usage: usage,
		bind: func(fs *flag.FlagSet, u string) { fs.Var((*stringList)(dst), name, u) }}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func durationSetting(dst *time.Duration, name, env string, def time.Duration, usage string) setting {
	return setting{name: name, env: env, usage: usage, want: "a duration such as 6h or 90m",
		bind: func(fs *flag.FlagSet, u string) { fs.DurationVar(dst, name, def, u) }}
}

// helpUsage is the flag's text in -h: the meaning with Markdown's code in
// single quotes (flag would take a back-quoted word for the argument's
// name), then the variable.
func (s setting) helpUsage() string {
	u := strings.ReplaceAll(s.usage, "`", "'")
	if s.env != "" {
		u += " (env " + s.env + ")"
	}
	return u
}

// register binds every setting to fs, each field set to its default.
func register(fs *flag.FlagSet, settings []setting) {
	for _, s := range settings {
		s.bind(fs, s.helpUsage())
	}
}

// givenFlags is the set of flags given on fs's command line.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// loadEnv gives each setting not on the command line (given) the value of
// its environment variable, parsed as its flag would be. A bad value is a
// usage error naming the variable and the value.
func loadEnv(fs *flag.FlagSet, settings []setting, given map[string]bool, getenv func(string) string) error {
	for _, s := range settings {
		if s.env == "" || given[s.name] {
			continue
		}
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := fs.Set(s.name, v); err != nil || (s.ok != nil && !s.ok()) {
			return fmt.Errorf("%w: %s %q: want %s", errUsage, s.env, v, s.want)
		}
	}
	return nil
}

// config is the global configuration: every command takes these settings.
type config struct {
	DB            string
	SMTP          string
	BaseURL       string
	From          string
	ReplyTo       string
	PostalAddress string
	Outbox        string
	SecretFile    string
	Verbose       bool

	// Sign-up and unsubscribe (see signup_mail.go).
	PendingExpiry     string
	UnsubscribeMailto string
	ClientIPHeader    string

	// Delivery.
	Connections  int
	Rate         float64
	DKIMKey      string
	DKIMSelector string
	DKIMDomain   string
	BounceLimit  int
	PauseAfter   int

	// Bounces and complaints (see bounces.go), the reputation guard's
	// limits (bounce_intake.go).
	BounceAddress    string
	SoftBounceLimit  int
	SoftBounceWindow time.Duration
	// The newsroom (see newsroom.go).
	ClusterThreshold float64
	ClusterWindow    time.Duration
	AutoPublish      string
	MaxComplaintRate float64
	MaxBounceRate    float64
}

// settings declares the global settings, in the order of the help and docs.
func (c *config) settings() []setting {
	rate := floatSetting(&c.Rate, "rate", "BOTHSIDES_RATE", 0, "at most this many messages per second over all connections; `0` is no limit")
	rate.want, rate.ok = "messages per second, 0 for unlimited", func() bool { return c.Rate >= 0 }
	dkimDomain := stringSetting(&c.DKIMDomain, "dkim-domain", "BOTHSIDES_DKIM_DOMAIN", "", "DKIM signing domain (`d=`)")
	dkimDomain.docDefault = "From's domain"
	softWindow := durationSetting(&c.SoftBounceWindow, "soft-bounce-window", "BOTHSIDES_SOFT_BOUNCE_WINDOW", 30*24*time.Hour, "the window `--soft-bounce-limit` counts in")
	softWindow.docDefault = "`720h` (30 days)"
	return append([]setting{
		stringSetting(&c.DB, "db", "BOTHSIDES_DB", "bothsides.db", "SQLite database file"),
		stringSetting(&c.SMTP, "smtp", "BOTHSIDES_SMTP_URL", "", "SMTP relay; without it mails are written as `.eml` files into the outbox"),
		stringSetting(&c.BaseURL, "base-url", "BOTHSIDES_BASE_URL", "http://127.0.0.1:8080", "public URL of `serve`, used in every mailed link"),
		stringSetting(&c.From, "from", "BOTHSIDES_FROM", "Both Sides <digest@localhost>", "sender"),
		stringSetting(&c.ReplyTo, "reply-to", "BOTHSIDES_REPLY_TO", "", "Reply-To address"),
		stringSetting(&c.PostalAddress, "postal-address", "BOTHSIDES_POSTAL_ADDRESS", "", "postal address in the footer (CAN-SPAM)"),
		stringSetting(&c.Outbox, "outbox", "BOTHSIDES_OUTBOX", "outbox", "folder for `.eml` files when no SMTP URL is set"),
		stringSetting(&c.SecretFile, "secret-file", "BOTHSIDES_SECRET_FILE", "", "file (mode `0600`) holding the link-signing key as hex, used instead of the key in the database, so that a copy of the database alone cannot forge links (see OPERATIONS.md)"),
		intSetting(&c.Connections, "connections", "BOTHSIDES_CONNECTIONS", 4, "SMTP connections sending at once, each reused for many messages"),
		rate,
		stringSetting(&c.DKIMKey, "dkim-key", "BOTHSIDES_DKIM_KEY", "", "PEM private key (RSA 2048 or Ed25519): DKIM-sign every message"),
		stringSetting(&c.DKIMSelector, "dkim-selector", "BOTHSIDES_DKIM_SELECTOR", "", "the key is published at `SELECTOR._domainkey.DOMAIN`"),
		dkimDomain,
		intSetting(&c.BounceLimit, "bounce-limit", "BOTHSIDES_BOUNCE_LIMIT", 3, "hard bounces (5xx to RCPT or DATA) after which a subscriber is suppressed (status `bounced`)"),
		stringSetting(&c.BounceAddress, "bounce-address", "BOTHSIDES_BOUNCE_ADDRESS", "", "envelope sender for editions, e.g. `bounces@bounce.example.com`: each message goes out as `bounces+TOKEN@bounce.example.com`, the token naming the delivery, so that bounces and complaints find their subscriber (see BOUNCES.md); empty: the From address"),
		intSetting(&c.SoftBounceLimit, "soft-bounce-limit", "BOTHSIDES_SOFT_BOUNCE_LIMIT", 5, "soft bounces (mailbox full, delays, policy refusals), on as many editions within `--soft-bounce-window`, after which a subscriber is suppressed (status `bounced`)"),
		softWindow,
		intSetting(&c.PauseAfter, "pause-after", "BOTHSIDES_PAUSE_AFTER", 50, "failures in a row with no success that pause the edition: a relay refusing everything does not burn through the list"),
		boolSetting(&c.Verbose, "v", "", false, "debug logging"),
		stringSetting(&c.PendingExpiry, "pending-expiry", "BOTHSIDES_PENDING_EXPIRY", "48h", "how long a sign-up's confirmation link works; unconfirmed sign-ups are deleted after it (at least `1h`)"),
		stringSetting(&c.UnsubscribeMailto, "unsubscribe-mailto", "BOTHSIDES_UNSUBSCRIBE_MAILTO", "", "`mailto:` address for unsubscribing by mail: listed on the unsubscribe page and in the `List-Unsubscribe` header"),
		floatSetting(&c.ClusterThreshold, "cluster-threshold", "BOTHSIDES_CLUSTER_THRESHOLD", cluster.DefaultConfig().Threshold, "similarity (TF-IDF cosine, 0 to 1) at which a new article joins a story; below it the article starts a draft story of its own"),
		durationSetting(&c.ClusterWindow, "cluster-window", "BOTHSIDES_CLUSTER_WINDOW", cluster.DefaultConfig().Window, "how far back a story takes new articles"),
		stringSetting(&c.AutoPublish, "auto-publish", "BOTHSIDES_AUTO_PUBLISH", "", "`SOURCES,SIDES`, e.g. `3,2`: publish a draft once it has that many sources from that many sides (empty: editors publish by hand)"),
		stringSetting(&c.ClientIPHeader, "client-ip-header", "BOTHSIDES_CLIENT_IP_HEADER", "", "behind a reverse proxy, the header it sets to the client's IP (`X-Real-IP`, or `X-Forwarded-For` whose last entry is used) for the sign-up rate limit; only set it when the proxy overwrites or appends it"),
	}, c.reputationSettings()...)
}

// ingestConfig is how feeds are fetched: ingest takes these settings, and
// serve and demo take them with --ingest-every.
type ingestConfig struct {
	Every        time.Duration
	AllowPrivate bool
	Timeout      time.Duration
	MaxBytes     int
}

// settings declares the fetcher's settings; --ingest-every only withEvery.
func (c *ingestConfig) settings(withEvery bool) []setting {
	maxBytes := intSetting(&c.MaxBytes, "ingest-max-bytes", "BOTHSIDES_INGEST_MAX_BYTES", 5<<20, "a feed larger than this many bytes (after decompression) is not read, and the error is recorded on the feed")
	maxBytes.docDefault = "`5242880` (5 MB)"
	s := []setting{
		boolSetting(&c.AllowPrivate, "ingest-allow-private", "BOTHSIDES_INGEST_ALLOW_PRIVATE", false, "fetch feeds from loopback, private and link-local addresses too (refused by default, also after a redirect, so that a feed URL cannot reach the server's own network)"),
		durationSetting(&c.Timeout, "ingest-timeout", "BOTHSIDES_INGEST_TIMEOUT", 30*time.Second, "one feed's fetch (connecting, redirects and the whole body) fails after this long"),
		maxBytes,
	}
	if withEvery {
		every := durationSetting(&c.Every, "ingest-every", "BOTHSIDES_INGEST_EVERY", 15*time.Minute, "how often `serve` fetches the sources' feeds, when any source has one (at least `1m`); `0` never")
		every.docDefault = "`15m`"
		s = append([]setting{every}, s...)
	}
	return s
}

// check refuses settings the fetcher cannot work with.
func (c *ingestConfig) check() error {
	if c.Timeout <= 0 || c.MaxBytes <= 0 || c.Every < 0 {
		return fmt.Errorf("%w: --ingest-timeout %s, --ingest-max-bytes %d, --ingest-every %s: want positive values (--ingest-every 0 turns the ingest off)", errUsage, c.Timeout, c.MaxBytes, c.Every)
	}
	if c.Every > 0 && c.Every < time.Minute {
		return fmt.Errorf("%w: --ingest-every %s: want at least 1m, to be polite to the outlets", errUsage, c.Every)
	}
	return nil
}
