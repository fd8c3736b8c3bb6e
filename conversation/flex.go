package conversation

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The upstream spells the same field differently between API versions and
// sometimes between records of one page: attempt is "" or 2, isVoicemail is
// "NO" or false, durations are numbers or numeric strings. These types accept
// every shape seen in the documentation and keep a note when a value was there
// but unusable, so the metrics layer can count it instead of guessing.

var null = []byte("null")

// Text is a string that also accepts numbers and booleans (kept as their JSON
// text) and treats null as absent.
type Text string

// UnmarshalJSON implements json.Unmarshaler.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, null) {
		*t = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
		return nil
	}
	if b[0] == '{' || b[0] == '[' {
		// An object where text belongs carries nothing we can use; absent.
		*t = ""
		return nil
	}
	*t = Text(b)
	return nil
}

// Number is an optional number. Set reports that the field was present and
// held a number; Bad that it was present but was not a number ("abc", {}).
// An empty string counts as absent: the 2026 API sends attempt: "".
type Number struct {
	Value float64
	Set   bool
	Bad   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	*n = Number{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, null) {
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			n.Bad = true
			return nil
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		n.Bad = true
		return nil
	}
	n.Value, n.Set = v, true
	return nil
}

// Bool accepts true/false, "YES"/"NO", "true"/"false", "Y"/"N", 1/0.
type Bool struct {
	Value bool
	Set   bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	*v = Bool{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, null) {
		return nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return nil
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1":
		v.Value, v.Set = true, true
	case "false", "no", "n", "0":
		v.Value, v.Set = false, true
	}
	return nil
}

// Time is a timestamp as the platform writes it. Most are in the local time
// of the timeZoneOffset the request named and carry no zone
// ("2024-11-18T18:53:37"); a few (callback times, campaign run dates) are UTC
// with a Z. Raw keeps the text so that a zone-less time can be placed in the
// request's zone later, when the decoder knows it.
type Time struct {
	Raw string
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	var txt Text
	if err := txt.UnmarshalJSON(b); err != nil {
		return err
	}
	t.Raw = strings.TrimSpace(string(txt))
	return nil
}

// Present reports whether the field held any text.
func (t Time) Present() bool { return t.Raw != "" }

var zonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"}

var localLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// In parses the time; a time without a zone is read in loc.
func (t Time) In(loc *time.Location) (time.Time, bool) {
	if t.Raw == "" {
		return time.Time{}, false
	}
	if v, ok := parseLocal(t.Raw, loc); ok {
		return v, true
	}
	for _, l := range zonedLayouts {
		if v, err := time.Parse(l, t.Raw); err == nil {
			return v, true
		}
	}
	for _, l := range localLayouts {
		if v, err := time.ParseInLocation(l, t.Raw, loc); err == nil {
			return v, true
		}
	}
	return time.Time{}, false
}

// Texts is a list of strings that also accepts a single string.
type Texts []string

// UnmarshalJSON implements json.Unmarshaler.
func (ts *Texts) UnmarshalJSON(b []byte) error {
	*ts = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, null) {
		return nil
	}
	if b[0] != '[' {
		var one Text
		if err := one.UnmarshalJSON(b); err != nil {
			return err
		}
		if one != "" {
			*ts = Texts{string(one)}
		}
		return nil
	}
	var many []Text
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	for _, s := range many {
		*ts = append(*ts, string(s))
	}
	return nil
}

// parseLocal reads the layout the platform writes almost every time in,
// "2006-01-02T15:04:05" (or with a space for the T, and a fraction of 1 to
// 9 digits), by hand: the layouts loop in In would first try the two zoned
// layouts, which fail on these and allocate their errors. It gives what
// the loop gives: the zoned layouts need a zone after the seconds, so they
// fail on every string taken here; the first local layout that fits
// ("2006-01-02T15:04:05.999999999" or its space variant) is
// time.ParseInLocation, which for a string without a zone returns
// time.Date of its fields in loc after checking their ranges; the same
// ranges are checked here. Anything else (out of range too) returns false
// and goes through the loop.
func parseLocal(s string, loc *time.Location) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05") || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
		s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19:]; frac != "" {
		// "." and 1 to 9 digits; Parse takes more (truncating) and a
		// comma too, which are left to it.
		n, ok := digits(frac[1:])
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 || !ok {
			return time.Time{}, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			n *= 10
		}
		nsec = n
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

// digits parses a run of ASCII digits (no sign, unlike strconv.Atoi).
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
