package feeds

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSVColumns are the columns of a sources file, in order; feeds holds the
// feed URLs separated by ";".
var CSVColumns = []string{"name", "domain", "bias", "feeds", "factuality", "owner", "rated_by", "rated_on"}

// MaxCSVRows caps a sources file.
const MaxCSVRows = 10000

// ParseCSV reads a sources file: a header naming the columns (any order;
// name, domain and bias are required, the others may be left out), then
// one source per line. Every error names its line; a file with any error
// yields no sources.
func ParseCSV(r io.Reader) ([]Source, error) {
	list, _, err := ReadCSV(r)
	return list, err
}

// ReadCSV is ParseCSV that also returns the columns the header named, for
// Import to keep the others.
func ReadCSV(r io.Reader) ([]Source, []string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("line 1: empty file: want a header %s", strings.Join(CSVColumns, ","))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("line 1: %w", err)
	}
	col := map[string]int{}
	var columns []string
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range CSVColumns {
			known = known || c == h
		}
		if !known {
			return nil, nil, fmt.Errorf("line 1: unknown column %q: want %s", h, strings.Join(CSVColumns, ","))
		}
		if _, dup := col[h]; dup {
			return nil, nil, fmt.Errorf("line 1: column %q appears twice", h)
		}
		col[h] = i
		columns = append(columns, h)
	}
	for _, c := range []string{"name", "domain", "bias"} {
		if _, ok := col[c]; !ok {
			return nil, nil, fmt.Errorf("line 1: no %q column: want a header %s", c, strings.Join(CSVColumns, ","))
		}
	}
	var out []Source
	var problems []string
	names := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("line %d: %w", pe.Line, pe.Err)
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(out) == MaxCSVRows {
			return nil, nil, fmt.Errorf("line %d: more than %d sources in one file", line, MaxCSVRows)
		}
		if len(rec) != len(header) {
			problems = append(problems, fmt.Sprintf("line %d: %d fields, want %d (%s)", line, len(rec), len(header), strings.Join(header, ",")))
			continue
		}
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return rec[i]
			}
			return ""
		}
		s := Source{Name: get("name"), Domain: get("domain"), Bias: get("bias"), Factuality: get("factuality"),
			Owner: get("owner"), RatedBy: get("rated_by"), RatedOn: get("rated_on")}
		for _, u := range strings.Split(get("feeds"), ";") {
			if u = strings.TrimSpace(u); u != "" {
				s.Feeds = append(s.Feeds, Feed{URL: u})
			}
		}
		if err := s.Normalize(); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		key := strings.ToLower(s.Name)
		if first, dup := names[key]; dup {
			problems = append(problems, fmt.Sprintf("line %d: source %q is on line %d already", line, s.Name, first))
			continue
		}
		names[key] = line
		out = append(out, s)
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("and %d more", len(problems)-20))
		}
		return nil, nil, fmt.Errorf("%w: %s; nothing was imported", ErrInvalid, strings.Join(problems, "; "))
	}
	return out, columns, nil
}

// WriteCSV writes sources in the format ParseCSV reads.
func WriteCSV(w io.Writer, list []Source) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVColumns)
	for _, s := range list {
		cw.Write([]string{s.Name, s.Domain, s.Bias, strings.Join(s.FeedURLs(), ";"), s.Factuality, s.Owner, s.RatedBy, s.RatedOn})
	}
	cw.Flush()
	return cw.Error()
}
