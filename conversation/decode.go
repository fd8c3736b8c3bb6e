package conversation

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Reasons a record is skipped. They are label values of
// smartassist_exporter_invalid_records_total, so they are a closed set.
const (
	InvalidMalformed = "malformed"      // not a JSON object, or a field of the wrong structure
	InvalidMissingID = "missing_id"     // neither conversationId nor sessionId
	InvalidStartTime = "bad_start_time" // sessionStartTime absent or unparseable
)

// InvalidReasons lists every reason, so counters can be initialised to 0.
var InvalidReasons = []string{InvalidMalformed, InvalidMissingID, InvalidStartTime}

// Invalid is a record that was skipped, with why. Index is its position in
// the page's data array; Key is set when the record had an id.
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

type rawPage struct {
	NumResults Number          `json:"numResults"`
	Data       json.RawMessage `json:"data"`
}

// ErrNoData is returned for a response that is JSON but has no data array.
var ErrNoData = errors.New(`response has no "data" array`)

// DecodePage decodes one response body. Zone-less timestamps are read in loc,
// the zone of the timeZoneOffset the request sent. An error means the whole
// response is unusable; a bad record only lands in Page.Invalid.
func DecodePage(body []byte, loc *time.Location) (Page, error) {
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
			p.Invalid = append(p.Invalid, Invalid{Index: i, Key: c.Key(), Reason: reason, Err: err})
			continue
		}
		p.Records = append(p.Records, c)
	}
	return p, nil
}

// DecodeRecord decodes one record; the reason is empty when it is usable.
func DecodeRecord(msg []byte, loc *time.Location) (Conversation, string, error) {
	var c Conversation
	reason, err := decodeRecord(msg, loc, &c)
	return c, reason, err
}

func decodeRecord(msg []byte, loc *time.Location, c *Conversation) (string, error) {
	// encoding/json matches keys case-insensitively (Reason/reason,
	// customerinfo/customerInfo) and keeps filling the other fields after a
	// type mismatch; the flexible field types absorb the scalar variations,
	// so an error left here is a structural one (an object where a list
	// belongs) that leaves the record ambiguous.
	if err := json.Unmarshal(msg, c); err != nil {
		return InvalidMalformed, err
	}
	if c.Key() == "" {
		return InvalidMissingID, errors.New("record has neither conversationId nor sessionId")
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
