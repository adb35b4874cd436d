package sqlite

import (
	"database/sql"
	"fmt"
	"time"
)

// TimeFormat is how every time is stored: UTC, second precision, so that
// string order is time order.
const TimeFormat = "2006-01-02T15:04:05Z"

// Time formats t for storage.
func Time(t time.Time) string { return t.UTC().Format(TimeFormat) }

// NullTime formats t for storage, or NULL for the zero time.
func NullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: Time(t), Valid: true}
}

// ParseTime reads a stored time; an empty string is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// ParseNullTime reads a nullable stored time.
func ParseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return ParseTime(s.String)
}
