package conversation

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var seeds = []string{"calldetails_2024.json", "calldetails_2026.json"}

func readSeed(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSeedsDecodeWithoutLoss decodes the documentation's two sample
// responses and checks every field the exporter uses against a plain
// generic parse of the same JSON, record by record.
func TestSeedsDecodeWithoutLoss(t *testing.T) {
	for _, name := range seeds {
		t.Run(name, func(t *testing.T) {
			body := readSeed(t, name)
			page, err := DecodePage(body, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			var generic struct {
				NumResults int              `json:"numResults"`
				Data       []map[string]any `json:"data"`
			}
			if err := json.Unmarshal(body, &generic); err != nil {
				t.Fatal(err)
			}
			if len(page.Invalid) != 0 {
				t.Fatalf("invalid records: %+v", page.Invalid)
			}
			if len(page.Records) != len(generic.Data) || page.Len != len(generic.Data) {
				t.Fatalf("decoded %d records (len %d), the sample has %d", len(page.Records), page.Len, len(generic.Data))
			}
			if int(page.NumResults.Value) != generic.NumResults {
				t.Errorf("numResults %v, want %d", page.NumResults.Value, generic.NumResults)
			}
			for i, raw := range generic.Data {
				compareRecord(t, &page.Records[i], raw)
			}
		})
	}
}

func str(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k].(string); ok {
			return v
		}
	}
	return ""
}

func num(m map[string]any, key string) (float64, bool) {
	v, ok := m[key].(float64)
	return v, ok
}

func compareRecord(t *testing.T, c *Conversation, raw map[string]any) {
	t.Helper()
	id := str(raw, "conversationId")
	if string(c.ConversationID) != id || string(c.SessionID) != str(raw, "sessionId") {
		t.Errorf("ids: got %q/%q", c.ConversationID, c.SessionID)
	}
	if string(c.Channel) != str(raw, "channel") || string(c.FinalStatus) != str(raw, "finalStatus") ||
		string(c.Direction) != str(raw, "Direction") {
		t.Errorf("%s: channel/status/direction %q %q %q", id, c.Channel, c.FinalStatus, c.Direction)
	}
	start, _ := time.Parse("2006-01-02T15:04:05", str(raw, "sessionStartTime"))
	end, _ := time.Parse("2006-01-02T15:04:05", str(raw, "sessionEndTime"))
	if !c.Start.Equal(start) || !c.End.Equal(end) {
		t.Errorf("%s: times %v %v, want %v %v", id, c.Start, c.End, start, end)
	}
	for _, f := range []struct {
		key string
		n   Number
	}{{"csatScore", c.CSATScore}, {"npsScore", c.NPSScore}, {"likeDislikeScore", c.LikeDislike}} {
		v, ok := num(raw, f.key)
		if ok != f.n.Set || v != f.n.Value {
			t.Errorf("%s: %s = %+v, want %v (present %v)", id, f.key, f.n, v, ok)
		}
	}
	disp, _ := raw["dispositions"].([]any)
	if len(disp) != len(c.Dispositions) {
		t.Errorf("%s: %d dispositions, want %d", id, len(c.Dispositions), len(disp))
	}
	dests, _ := raw["destinations"].([]any)
	if len(dests) != len(c.Destinations) {
		t.Fatalf("%s: %d destinations, want %d", id, len(c.Destinations), len(dests))
	}
	for j, rd := range dests {
		d := rd.(map[string]any)
		got := &c.Destinations[j]
		if string(got.DestinationType) != str(d, "destinationType") || string(got.QueueName) != str(d, "queueName") ||
			string(got.QueueID) != str(d, "queueId") || got.EnterTime.Raw != str(d, "EnterTime") {
			t.Errorf("%s dest %d: %+v", id, j, got)
		}
		ra, hasRA := d["respondingAgent"].(map[string]any)
		if hasRA != (got.RespondingAgent != nil) {
			t.Fatalf("%s dest %d: respondingAgent presence %v", id, j, got.RespondingAgent != nil)
		}
		seg, segRaw := &got.Segment, d
		if hasRA {
			seg, segRaw = got.RespondingAgent, ra
		}
		for _, f := range []struct {
			key string
			n   Number
		}{{"firstResponseDuration", seg.FirstResponseDuration}, {"interactionDuration", seg.InteractionDuration},
			{"holdDuration", seg.HoldDuration}, {"afterCallWorkDuration", seg.AfterCallWorkDuration}} {
			v, ok := num(segRaw, f.key)
			if ok != f.n.Set || v != f.n.Value {
				t.Errorf("%s dest %d: %s = %+v, want %v", id, j, f.key, f.n, v)
			}
		}
		if string(seg.Status) != str(segRaw, "status") || seg.AcceptedTime.Raw != str(segRaw, "acceptedTime") ||
			string(seg.AgentID) != str(segRaw, "agentId") {
			t.Errorf("%s dest %d: segment %+v", id, j, seg)
		}
		consults, _ := segRaw["ConsultingAgents"].([]any)
		if len(consults) != len(seg.ConsultingAgents) {
			t.Errorf("%s dest %d: %d consults, want %d", id, j, len(seg.ConsultingAgents), len(consults))
		}
		nr, _ := d["nonRespondingAgents"].([]any)
		if len(nr) != len(got.NonRespondingAgents) {
			t.Errorf("%s dest %d: %d non-responding, want %d", id, j, len(got.NonRespondingAgents), len(nr))
		}
		for k, n := range nr {
			if string(got.NonRespondingAgents[k].NonResponseEvent) != str(n.(map[string]any), "nonResponseEvent") {
				t.Errorf("%s dest %d: nonResponseEvent %q", id, j, got.NonRespondingAgents[k].NonResponseEvent)
			}
		}
		if cb, ok := d["CallbackOpted"].(bool); ok != got.CallbackOpted.Set || cb != got.CallbackOpted.Value {
			t.Errorf("%s dest %d: CallbackOpted %+v", id, j, got.CallbackOpted)
		}
	}
	ci, hasCI := raw["campaigninfo"].(map[string]any)
	if hasCI != (c.Campaign != nil) {
		t.Fatalf("%s: campaigninfo presence", id)
	}
	if hasCI {
		if string(c.Campaign.CampaignName) != str(ci, "campaignName") || string(c.Campaign.ContactStatus) != str(ci, "contactStatus") {
			t.Errorf("%s: campaign %+v", id, c.Campaign)
		}
		if v, ok := num(ci, "attempt"); ok != c.Campaign.Attempt.Set || v != c.Campaign.Attempt.Value {
			t.Errorf("%s: attempt %+v", id, c.Campaign.Attempt)
		}
	}
}

// TestSeedSpecifics pins what the samples show about the API's quirks.
func TestSeedSpecifics(t *testing.T) {
	old, err := DecodePage(readSeed(t, "calldetails_2024.json"), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*Conversation{}
	for i := range old.Records {
		byKey[old.Records[i].Key()] = &old.Records[i]
	}
	if c := byKey["c-d521a77-eec5-4b5c-ba58-ab868457xxxx"]; c.ChannelName() != "Jones" || string(c.Channel) != "Jones " {
		t.Errorf("channel: %q / %q", c.Channel, c.ChannelName())
	}
	if c := byKey["c-c613d89-2c52-400d-9e0a-d85804e1xxxx"]; c.Finished() {
		t.Error("TRANSIENT_OPEN record is finished")
	}
	if c := byKey["c-43bc8a3-782e-436a-a646-755ad98exxxx"]; !c.Finished() || !c.IsVoicemail.Set || c.IsVoicemail.Value {
		t.Errorf("CLOSED record: finished %v, isVoicemail %+v", c.Finished(), c.IsVoicemail)
	}
	neu, err := DecodePage(readSeed(t, "calldetails_2026.json"), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	bot := &neu.Records[0]
	if bot.Key() != "session:68db745779cb8cebd651xxxx" || bot.DirectionName() != "unknown" || bot.Status() != "BotResolved" || !bot.Finished() {
		t.Errorf("bot-only session: key %q direction %q status %q", bot.Key(), bot.DirectionName(), bot.Status())
	}
}

func TestLenientFields(t *testing.T) {
	loc := ZoneForOffset(-330) // India: UTC+5:30
	rec := `{
		"conversationId": 123, "channel": " Voice ", "direction": "OUTBOUND", "finalStatus": "CLOSED",
		"isVoicemail": "YES", "sessionStartTime": "2025-01-02 10:00:00", "sessionEndTime": "2025-01-02T10:05:30.250",
		"csatScore": "4", "npsScore": "", "likeDislikeScore": null, "dispositions": "Resolved",
		"destinations": [{"destinationType": "queueentry", "queueName": "Sales", "CallbackOpted": "true",
			"respondingAgent": {"status": "answered", "interactionDuration": "61", "afterCallWorkDuration": "abc"}}],
		"campaigninfo": {"campaignName": "Q4", "attempt": ""}
	}`
	c, reason, err := decodeOne(t, rec, loc)
	if reason != "" {
		t.Fatalf("rejected: %s %v", reason, err)
	}
	wantStart := time.Date(2025, 1, 2, 4, 30, 0, 0, time.UTC)
	checks := []struct {
		name string
		ok   bool
	}{
		{"numeric id", c.Key() == "123"},
		{"channel trimmed", c.ChannelName() == "Voice"},
		{"direction any case", c.DirectionName() == "outbound"},
		{"voicemail YES", c.IsVoicemail.Set && c.IsVoicemail.Value},
		{"start in offset zone", c.Start.Equal(wantStart)},
		{"end with fraction", c.End.Equal(wantStart.Add(5*time.Minute + 30*time.Second + 250*time.Millisecond))},
		{"csat from string", c.CSATScore.Set && c.CSATScore.Value == 4},
		{"nps empty is absent", !c.NPSScore.Set && !c.NPSScore.Bad},
		{"like null is absent", !c.LikeDislike.Set},
		{"single disposition", len(c.Dispositions) == 1 && c.Dispositions[0] == "Resolved"},
		{"queue entry any case", c.Destinations[0].IsQueueEntry()},
		{"callback from string", c.Destinations[0].CallbackOpted.Value},
		{"interaction from string", c.Destinations[0].RespondingAgent.InteractionDuration.Value == 61},
		{"bad number noted", c.Destinations[0].RespondingAgent.AfterCallWorkDuration.Bad},
		{"attempt empty is absent", !c.Campaign.Attempt.Set},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: %+v", ch.name, c)
		}
	}
	// A zoned time stays in its zone.
	if v, ok := (Time{Raw: "2025-09-30T06:34:48.810Z"}).In(loc); !ok || !v.Equal(time.Date(2025, 9, 30, 6, 34, 48, 810e6, time.UTC)) {
		t.Errorf("zoned time: %v %v", v, ok)
	}
}

// decodeOne decodes one record as the only element of a page.
func decodeOne(t *testing.T, rec string, loc *time.Location) (Conversation, string, error) {
	t.Helper()
	p, err := DecodePage([]byte(`{"data":[`+rec+`]}`), loc)
	if err != nil || p.Len != 1 {
		t.Fatalf("page of one record: %d elements, %v", p.Len, err)
	}
	if len(p.Invalid) == 1 {
		return Conversation{}, p.Invalid[0].Reason, p.Invalid[0].Err
	}
	return p.Records[0], "", nil
}

func TestInvalidRecords(t *testing.T) {
	body := `{"numResults": 5, "data": [
		{"conversationId": "c-1", "sessionStartTime": "2025-01-01T00:00:00", "finalStatus": "CLOSED"},
		{"channel": "Voice", "sessionStartTime": "2025-01-01T00:00:00"},
		{"conversationId": "c-3", "sessionStartTime": "soon"},
		{"conversationId": "c-4", "sessionStartTime": "2025-01-01T00:00:00", "destinations": {"oops": 1}},
		"not an object"
	]}`
	p, err := DecodePage([]byte(body), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if p.Len != 5 || len(p.Records) != 1 || p.Records[0].Key() != "c-1" {
		t.Fatalf("records: %d of %d", len(p.Records), p.Len)
	}
	want := []string{InvalidMissingID, InvalidStartTime, InvalidMalformed, InvalidMalformed}
	if len(p.Invalid) != len(want) {
		t.Fatalf("invalid: %+v", p.Invalid)
	}
	for i, w := range want {
		if p.Invalid[i].Reason != w {
			t.Errorf("record %d: reason %q, want %q", p.Invalid[i].Index, p.Invalid[i].Reason, w)
		}
	}
	for _, bad := range []string{`not json`, `{"numResults": 0}`, `{"data": {"a": 1}}`} {
		if _, err := DecodePage([]byte(bad), time.UTC); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if p, err := DecodePage([]byte(`{"numResults":0,"data":null}`), time.UTC); err != nil || p.Len != 0 {
		t.Errorf("null data: %v %v", p, err)
	}
}

func TestFinished(t *testing.T) {
	for status, want := range map[string]bool{
		"CLOSED": true, "BotResolved": true, "TERMINATED": true, "TRANSIENT_OPEN": false, "OPEN": false,
		"": false, "  ": false, "IN_PROGRESS": false, "waiting": false,
	} {
		c := Conversation{FinalStatus: Text(status)}
		if c.Finished() != want {
			t.Errorf("%q: finished %v", status, !want)
		}
	}
}

func TestZoneForOffset(t *testing.T) {
	for offset, want := range map[int]string{300: "-05:00", -330: "+05:30", 0: "Z", -840: "+14:00"} {
		got := time.Date(2025, 1, 1, 0, 0, 0, 0, ZoneForOffset(offset)).Format("Z07:00")
		if got != want {
			t.Errorf("offset %d: %s, want %s", offset, got, want)
		}
	}
}

// FuzzDecodePage: whatever the body, decoding neither panics nor loses
// count (every element of data is a record or an invalid one), and the
// one-pass decoder answers exactly as the reference decoder
// (reference_test.go) with the bad_id rule.
func FuzzDecodePage(f *testing.F) {
	// The corpus is the seed samples one record per input: whole 60 KB
	// pages make the coverage-guided mutator crawl (measured: a few execs
	// per minute), single records keep it at thousands per second.
	for _, name := range seeds {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(readSeed(f, name), &page); err != nil {
			f.Fatal(err)
		}
		for _, rec := range page.Data {
			f.Add([]byte(`{"numResults":1,"data":[` + string(rec) + `]}`))
		}
	}
	f.Add([]byte(`{"data":[{"conversationId":1,"sessionStartTime":"2025-01-01","csatScore":"x"}]}`))
	// The hostile shapes: broken records, null data, data not a list, a
	// record that is a number, nested junk, duplicated keys, huge numbers,
	// invalid UTF-8, bad ids... (the small ones: big seeds slow the mutator).
	hostile := hostileBodies()
	names := make([]string, 0, len(hostile))
	for name := range hostile {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if len(hostile[name]) <= 4096 {
			f.Add([]byte(hostile[name]))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		loc := ZoneForOffset(300)
		p, err := DecodePage(body, loc)
		want, wantErr := expectedPage(body, loc)
		comparePages(t, "fuzzed body", p, err, want, wantErr)
		if err != nil {
			return
		}
		if len(p.Records)+len(p.Invalid) != p.Len {
			t.Fatalf("%d records + %d invalid != %d elements", len(p.Records), len(p.Invalid), p.Len)
		}
		for i := range p.Records {
			if p.Records[i].Key() == "" || p.Records[i].Start.IsZero() && !strings.HasPrefix(p.Records[i].StartTime.Raw, "0001") {
				t.Fatalf("usable record without key or start: %+v", p.Records[i])
			}
			if checkKey(p.Records[i].Key()) != nil {
				t.Fatalf("usable record with a bad key: %q", p.Records[i].Key())
			}
		}
	})
}

// TestBadID (issue 8): a record whose id cannot be a key — longer than any
// real id (a 40 kB conversationId blocked its page forever in bbolt),
// control characters, invalid UTF-8 — is invalid with reason bad_id, without
// its key, and the rest of the page is used.
func TestBadID(t *testing.T) {
	rec := func(idField, id string) string {
		b, _ := json.Marshal(map[string]string{idField: id, "sessionStartTime": "2025-01-01T00:00:00", "finalStatus": "CLOSED"})
		return string(b)
	}
	ids := []struct {
		field, id string
		bad       bool
	}{
		{"conversationId", "c-ok-1", false},
		{"conversationId", strings.Repeat("x", 40000), true},
		{"conversationId", strings.Repeat("x", MaxKeyBytes), false},
		{"conversationId", strings.Repeat("x", MaxKeyBytes+1), true},
		{"sessionId", strings.Repeat("s", MaxKeyBytes-len("session:")), false},
		{"sessionId", strings.Repeat("s", MaxKeyBytes-len("session:")+1), true},
		{"conversationId", "c-\x00-nul", true},
		{"conversationId", "c-\n-newline", true},
		{"conversationId", "c-\u0085-c1", true},
		{"conversationId", "c-\xff-invalid-utf8", true}, // Marshal writes U+FFFD, as the decoder would read it
		{"conversationId", " c-ok-2 ", false},
		{"conversationId", "c-\u00e9t\u00e9-ok", false},
	}
	var parts []string
	for _, id := range ids {
		parts = append(parts, rec(id.field, id.id))
	}
	// The raw invalid UTF-8 too, as an upstream would send it.
	parts = append(parts, `{"conversationId":"c-`+"\xff\xfe"+`","sessionStartTime":"2025-01-01T00:00:00"}`)
	ids = append(ids, struct {
		field, id string
		bad       bool
	}{"conversationId", "raw", true})
	p, err := DecodePage([]byte(`{"numResults":13,"data":[`+strings.Join(parts, ",")+`]}`), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[int]bool{}
	for _, inv := range p.Invalid {
		if inv.Reason != InvalidBadID || inv.Key != "" || inv.Err == nil || len(inv.Err.Error()) > 200 {
			t.Errorf("element %d: %+v", inv.Index, inv)
		}
		bad[inv.Index] = true
	}
	good := 0
	for i, id := range ids {
		if bad[i] != id.bad {
			t.Errorf("element %d (%s of %d bytes): invalid %v, want %v", i, id.field, len(id.id), bad[i], id.bad)
		}
		if !id.bad {
			good++
		}
	}
	if len(p.Records) != good || p.Len != len(ids) {
		t.Errorf("%d records of %d elements, want %d of %d", len(p.Records), p.Len, good, len(ids))
	}
	// encoding/json's path (a page the one-pass decoder leaves to it) applies
	// the same rule.
	std, err := decodePageStd([]byte(`{"numResults":13,"data":[`+strings.Join(parts, ",")+`]}`), time.UTC)
	comparePages(t, "decodePageStd", std, err, p, nil)
	if !slices.Contains(InvalidReasons, InvalidBadID) {
		t.Error("bad_id is not in InvalidReasons: its counter would not start at 0")
	}
}
