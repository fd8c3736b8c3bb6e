package conversation

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reasons a record is skipped. They are label values of
// smartassist_exporter_invalid_records_total, so they are a closed set.
const (
	InvalidMalformed = "malformed"      // not a JSON object, or a field of the wrong structure
	InvalidMissingID = "missing_id"     // neither conversationId nor sessionId
	InvalidBadID     = "bad_id"         // an id no real conversation has: too long, control characters, invalid UTF-8
	InvalidStartTime = "bad_start_time" // sessionStartTime absent or unparseable
)

// InvalidReasons lists every reason, so counters can be initialised to 0.
var InvalidReasons = []string{InvalidMalformed, InvalidMissingID, InvalidBadID, InvalidStartTime}

// MaxKeyBytes bounds a record's Key. Real ids are under 40 bytes
// ("c-d521a77-eec5-4b5c-ba58-ab868457xxxx", "session:" + 24 hex digits); a
// key becomes a bbolt key and an exemplar label, and an upstream that sends
// a 40 kB id must not block the page it is on (bbolt refuses the key, the
// page never commits). 128 bytes is also Prometheus' limit on an exemplar's
// labels.
const MaxKeyBytes = 128

// Invalid is a record that was skipped, with why. Index is its position in
// the page's data array; Key is set when the record had a usable id.
type Invalid struct {
	Index  int
	Key    string
	Reason string
	Err    error
}

// Page is one decoded response of the call-details API.
type Page struct {
	// NumResults is the count the platform reports for this page (not a total).
	NumResults Number
	// Len is the number of elements of the data array, valid or not: the
	// figure that tells whether the page was full.
	Len     int
	Records []Conversation
	Invalid []Invalid
}

// ErrNoData is returned for a response that is JSON but has no data array.
var ErrNoData = errors.New(`response has no "data" array`)

// DecodePage decodes one response body. Zone-less timestamps are read in loc,
// the zone of the timeZoneOffset the request sent. An error means the whole
// response is unusable; a bad record only lands in Page.Invalid.
//
// Two decoders give the same answer: a one-pass decoder written for this
// schema (fastdecode.go), which handles the pages the platform sends, and
// encoding/json, which decodes what the first one leaves to it — a whole body
// that is not well-formed or not shaped like a page, or a single record with
// something unusual in it (see pageDecoder). encoding/json's answer is the
// definition of the result; the tests compare both on real, simulated,
// hostile and fuzzed pages.
func DecodePage(body []byte, loc *time.Location) (Page, error) {
	if p, ok := decodePageFast(body, loc); ok {
		return p, nil
	}
	return decodePageStd(body, loc)
}

type rawPage struct {
	NumResults Number          `json:"numResults"`
	Data       json.RawMessage `json:"data"`
}

// decodePageStd is DecodePage with encoding/json alone: the page, then its
// data array, then each record.
func decodePageStd(body []byte, loc *time.Location) (Page, error) {
	var raw rawPage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Page{}, fmt.Errorf("decoding response: %w", err)
	}
	if len(raw.Data) == 0 {
		return Page{}, ErrNoData
	}
	var data []json.RawMessage // "data": null is an empty page
	if err := json.Unmarshal(raw.Data, &data); err != nil {
		return Page{}, fmt.Errorf(`decoding response: "data" is not a list: %w`, err)
	}
	p := Page{NumResults: raw.NumResults, Len: len(data), Records: make([]Conversation, 0, len(data))}
	for i, msg := range data {
		var c Conversation
		if reason, err := decodeRecord(msg, loc, &c); reason != "" {
			p.Invalid = append(p.Invalid, invalidRecord(i, &c, reason, err))
			continue
		}
		p.Records = append(p.Records, c)
	}
	return p, nil
}

// decodeRecord decodes one record with encoding/json; the reason is empty
// when it is usable.
func decodeRecord(msg []byte, loc *time.Location, c *Conversation) (string, error) {
	// encoding/json matches keys case-insensitively (Reason/reason,
	// customerinfo/customerInfo) and keeps filling the other fields after a
	// type mismatch; the flexible field types absorb the scalar variations,
	// so an error left here is a structural one (an object where a list
	// belongs) that leaves the record ambiguous.
	if err := json.Unmarshal(msg, c); err != nil {
		return InvalidMalformed, err
	}
	return finishRecord(c, loc)
}

// finishRecord checks a decoded record's id and reads its session times.
func finishRecord(c *Conversation, loc *time.Location) (string, error) {
	key := c.Key()
	if key == "" {
		return InvalidMissingID, errors.New("record has neither conversationId nor sessionId")
	}
	if err := checkKey(key); err != nil {
		return InvalidBadID, err
	}
	c.Loc = loc
	start, ok := c.ParseTime(c.StartTime)
	if !ok {
		return InvalidStartTime, fmt.Errorf("sessionStartTime %q is not a time", c.StartTime.Raw)
	}
	c.Start = start
	if end, ok := c.ParseTime(c.EndTime); ok {
		c.End = end
	}
	return "", nil
}

// checkKey rejects a key the state cannot hold or no real conversation has.
// The error does not quote the key: it may be megabytes of anything.
func checkKey(key string) error {
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("id of %d bytes is longer than any real one (%d at most)", len(key), MaxKeyBytes)
	}
	for i, r := range key {
		// encoding/json turns invalid UTF-8 into U+FFFD, so RuneError is
		// what a broken id looks like once decoded.
		if r == utf8.RuneError || unicode.IsControl(r) {
			return fmt.Errorf("id has a control character or invalid UTF-8 at byte %d", i)
		}
	}
	return nil
}

// invalidRecord describes a skipped record; a bad id is not repeated.
func invalidRecord(index int, c *Conversation, reason string, err error) Invalid {
	inv := Invalid{Index: index, Reason: reason, Err: err}
	if reason != InvalidBadID {
		inv.Key = c.Key()
	}
	return inv
}

// ZoneForOffset is the fixed zone of a timeZoneOffset in the platform's
// convention: minutes west of UTC (New York 300, India -330).
func ZoneForOffset(minutesWest int) *time.Location {
	if minutesWest == 0 {
		return time.UTC
	}
	return time.FixedZone(fmt.Sprintf("UTC%+03d:%02d", -minutesWest/60, abs(minutesWest)%60), -minutesWest*60)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
