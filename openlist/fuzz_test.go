package openlist

import (
	"encoding/json"
	"testing"
)

// FuzzListPage: whatever a list page holds, decoding it, reading the starts
// and deciding whether it is the last never panics; a start is either
// unknown (zero) or in the years a conversation can have; and a page with
// records is never taken as last while it says hasMore true.
func FuzzListPage(f *testing.F) {
	for _, seed := range []string{
		`{"results":[{"_id":"c-1","status":"ACTIVE","startSessionTime":"2023-05-25T06:56:11.959Z"}],"hasMore":false}`,
		`{"results":[{"_id":"c-1","status":"OPEN","startTime":1685000000000}],"limit":10}`,
		`{"results":[{"_id":"c-1","startSessionTime":{"$date":1},"startTime":["x"]}],"limit":-1,"hasMore":true}`,
		`{"results":[],"hasMore":true}`,
		`{"results":null}`,
		`{"results":[{"startSessionTime":"9999-12-31T23:59:59Z","startTime":"0001-01-01T00:00:00Z"}]}`,
		`{"results":[{"startSessionTime":"\u0000","startTime":"2023-05-25T12:26:11.959+05:30"}],"limit":1e308}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var pg listPage
		if json.Unmarshal(body, &pg) != nil || pg.Results == nil {
			return
		}
		last := pg.last()
		if len(*pg.Results) > 0 && pg.HasMore != nil && *pg.HasMore && last {
			t.Errorf("a page of %d records saying hasMore is taken as the last", len(*pg.Results))
		}
		for i := range *pg.Results {
			s := (*pg.Results)[i].start()
			if !s.IsZero() && (s.Year() < 2000 || s.Year() >= 3000) {
				t.Errorf("start %v outside the years a conversation can have", s)
			}
		}
	})
}
