package conversation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smartassist-exporter/smartassist_exporter/simulator"
)

// The one-pass decoder must give, on every input, what the decoder it
// replaced gave (reference_test.go), except for the one intended change:
// a record whose id cannot be a key is invalid with reason bad_id.

// expectedPage is the reference's answer with the bad_id rule applied: a
// record (or a record invalid only for its start time) whose key fails
// checkKey becomes invalid with reason bad_id and no key.
func expectedPage(body []byte, loc *time.Location) (Page, error) {
	p, err := refDecodePage(body, loc)
	if err != nil {
		return p, err
	}
	out := Page{NumResults: p.NumResults, Len: p.Len, Records: make([]Conversation, 0, len(p.Records))}
	records, invalid := p.Records, p.Invalid
	for i := 0; i < p.Len; i++ {
		if len(invalid) > 0 && invalid[0].Index == i {
			inv := invalid[0]
			invalid = invalid[1:]
			if inv.Reason == InvalidStartTime && checkKey(inv.Key) != nil {
				inv = Invalid{Index: i, Reason: InvalidBadID}
			}
			out.Invalid = append(out.Invalid, inv)
			continue
		}
		c := records[0]
		records = records[1:]
		if checkKey(c.Key()) != nil {
			out.Invalid = append(out.Invalid, Invalid{Index: i, Reason: InvalidBadID})
			continue
		}
		out.Records = append(out.Records, c)
	}
	return out, nil
}

// comparePages reports every difference between got and want, field by
// field. Errors must read the same, but for bad_id, which the reference
// does not know.
func comparePages(t *testing.T, name string, got Page, gotErr error, want Page, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != unmirror(wantErr.Error()) {
		t.Fatalf("%s: error %v, want %v", name, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	var diffs []string
	strip := func(invs []Invalid) []Invalid {
		out := make([]Invalid, len(invs))
		for i, inv := range invs {
			out[i] = inv
			if inv.Reason == InvalidBadID {
				out[i].Err = nil
			}
		}
		return out
	}
	gi, wi := strip(got.Invalid), strip(want.Invalid)
	diffValues(&diffs, "Page.NumResults", reflect.ValueOf(got.NumResults), reflect.ValueOf(want.NumResults))
	diffValues(&diffs, "Page.Len", reflect.ValueOf(got.Len), reflect.ValueOf(want.Len))
	diffValues(&diffs, "Page.Records", reflect.ValueOf(got.Records), reflect.ValueOf(want.Records))
	if len(gi) != len(wi) {
		diffs = append(diffs, fmt.Sprintf("Page.Invalid: %d entries, want %d: %+v / %+v", len(gi), len(wi), gi, wi))
	} else {
		for i := range gi {
			g, w := gi[i], wi[i]
			if g.Index != w.Index || g.Key != w.Key || g.Reason != w.Reason || fmt.Sprint(g.Err) != unmirror(fmt.Sprint(w.Err)) {
				diffs = append(diffs, fmt.Sprintf("Page.Invalid[%d]: %+v, want %+v", i, g, w))
			}
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("... %d more", len(diffs)-10))
		}
		t.Fatalf("%s:\n%s", name, strings.Join(diffs, "\n"))
	}
}

// unmirror reads a reference error as if it named the package's types
// ("refConversation.destinations" is "Conversation.destinations").
func unmirror(msg string) string {
	return mirrorName.ReplaceAllString(strings.ReplaceAll(msg, "refRawPage", "rawPage"), "$1")
}

var mirrorName = regexp.MustCompile(`\bref([A-Z])`)

// diffValues walks two values of one type and notes where they differ:
// nil and empty slices differ, floats compare by their bits (-0 is not 0),
// times must be the same instant, wall clock and zone offset.
func diffValues(diffs *[]string, path string, got, want reflect.Value) {
	switch got.Kind() {
	case reflect.Struct:
		if got.Type() == reflect.TypeFor[time.Time]() {
			g, w := got.Interface().(time.Time), want.Interface().(time.Time)
			_, gOff := g.Zone()
			_, wOff := w.Zone()
			if !g.Equal(w) || gOff != wOff || g.IsZero() != w.IsZero() || g.Location().String() != w.Location().String() {
				*diffs = append(*diffs, fmt.Sprintf("%s: %v, want %v", path, g, w))
			}
			return
		}
		for i := 0; i < got.NumField(); i++ {
			diffValues(diffs, path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))
		}
	case reflect.Slice:
		if got.IsNil() != want.IsNil() || got.Len() != want.Len() {
			*diffs = append(*diffs, fmt.Sprintf("%s: len %d (nil %v), want %d (nil %v)", path, got.Len(), got.IsNil(), want.Len(), want.IsNil()))
			return
		}
		for i := 0; i < got.Len(); i++ {
			diffValues(diffs, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))
		}
	case reflect.Pointer:
		if got.IsNil() != want.IsNil() {
			*diffs = append(*diffs, fmt.Sprintf("%s: nil %v, want nil %v", path, got.IsNil(), want.IsNil()))
			return
		}
		if got.Type() == reflect.TypeFor[*time.Location]() {
			if got.Pointer() != want.Pointer() {
				*diffs = append(*diffs, fmt.Sprintf("%s: %v, want %v", path, got.Interface(), want.Interface()))
			}
			return
		}
		if !got.IsNil() {
			diffValues(diffs, path, got.Elem(), want.Elem())
		}
	case reflect.Float64:
		if math.Float64bits(got.Float()) != math.Float64bits(want.Float()) {
			*diffs = append(*diffs, fmt.Sprintf("%s: %v, want %v", path, got.Float(), want.Float()))
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			*diffs = append(*diffs, fmt.Sprintf("%s: %#v, want %#v", path, got.Interface(), want.Interface()))
		}
	}
}

// checkEquivalent decodes body both ways and compares.
func checkEquivalent(t *testing.T, name string, body []byte, loc *time.Location) {
	t.Helper()
	got, gotErr := DecodePage(body, loc)
	want, wantErr := expectedPage(body, loc)
	comparePages(t, name, got, gotErr, want, wantErr)
}

// fastStats runs the one-pass decoder alone: whether it kept the page and
// how many records it handed to encoding/json.
func fastStats(body []byte, loc *time.Location) (kept bool, deferred int) {
	d := pageDecoder{buf: body}
	_, kept = d.page(loc)
	return kept, d.deferred
}

func TestEquivalenceSeeds(t *testing.T) {
	for _, name := range seeds {
		body := readSeed(t, name)
		for _, loc := range []*time.Location{time.UTC, ZoneForOffset(300), ZoneForOffset(-330)} {
			checkEquivalent(t, name+"/"+loc.String(), body, loc)
		}
		if kept, deferred := fastStats(body, time.UTC); !kept || deferred != 0 {
			t.Errorf("%s: one-pass decoder kept the page %v, deferred %d records", name, kept, deferred)
		}
	}
}

// TestEquivalenceSimulated: 50+ pages as the simulator serves them (both
// API versions' spellings, customer details, open and finished records,
// three zones), then pages with broken records mixed in.
func TestEquivalenceSimulated(t *testing.T) {
	seeds, zones, minPages := []uint64{1, 2, 3}, []int{0, 300, -330}, 50
	if testing.Short() {
		seeds, zones, minPages = seeds[:1], zones[1:2], 5
	}
	cases := simulatedPages(t, simulator.Profile{PerHour: 400, OpenShare: 0.4, LateShare: 0.02}, seeds, zones)
	if len(cases) < minPages {
		t.Fatalf("only %d simulated pages", len(cases))
	}
	records := 0
	for _, c := range cases {
		checkEquivalent(t, c.name, c.body, c.loc)
		// The speed depends on the one-pass decoder keeping these pages
		// whole: none of their records may be left to encoding/json.
		if kept, deferred := fastStats(c.body, c.loc); !kept || deferred != 0 {
			t.Errorf("%s: one-pass decoder kept the page %v, deferred %d records", c.name, kept, deferred)
		}
		p, _ := DecodePage(c.body, c.loc)
		records += len(p.Records)
	}
	t.Logf("%d pages, %d records", len(cases), records)

	seeds, zones = []uint64{7, 8}, []int{0, -330}
	if testing.Short() {
		seeds, zones = seeds[:1], zones[1:]
	}
	broken := simulatedPages(t, simulator.Profile{PerHour: 400, OpenShare: 0.4, BrokenShare: 0.05}, seeds, zones)
	invalid := 0
	for _, c := range broken {
		checkEquivalent(t, "broken/"+c.name, c.body, c.loc)
		p, _ := DecodePage(c.body, c.loc)
		invalid += len(p.Invalid)
	}
	if invalid == 0 {
		t.Error("the broken pages held no invalid record: the test proves nothing about them")
	}
}

// TestEquivalenceFuzzCorpus: the fuzz target's stored corpus.
func TestEquivalenceFuzzCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodePage", "*"))
	if len(files) == 0 {
		t.Fatal("no stored fuzz corpus")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		body, ok := parseCorpusFile(b)
		if !ok {
			t.Fatalf("%s: not a corpus file", f)
		}
		checkEquivalent(t, filepath.Base(f), body, ZoneForOffset(300))
	}
}

// parseCorpusFile reads a "go test fuzz v1" file holding one []byte.
func parseCorpusFile(b []byte) ([]byte, bool) {
	lines := strings.SplitN(string(b), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	v := strings.TrimSpace(lines[1])
	if !strings.HasPrefix(v, "[]byte(") || !strings.HasSuffix(v, ")") {
		return nil, false
	}
	var s string
	if _, err := fmt.Sscanf(v[len("[]byte("):len(v)-1], "%q", &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

const goodRecord = `{"conversationId":"c-1","sessionId":"s-1","channel":"Voice","finalStatus":"CLOSED",` +
	`"sessionStartTime":"2025-01-01T10:00:00","sessionEndTime":"2025-01-01T10:05:00",` +
	`"destinations":[{"destinationType":"QueueEntry","queueId":"q","respondingAgent":{"status":"Answered","interactionDuration":60}}]}`

// hostileBodies are whole bodies, each a shape the platform should not send.
func hostileBodies() map[string]string {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	rec := func(fields string) string {
		return `{"numResults":1,"data":[{"conversationId":"c-1","sessionStartTime":"2025-01-01T10:00:00",` + fields + `}]}`
	}
	return map[string]string{
		"empty":                 ``,
		"spaces":                "  \n\t ",
		"null":                  `null`,
		"list":                  `[` + goodRecord + `]`,
		"string":                `"data"`,
		"number":                `12`,
		"no data":               `{"numResults":0}`,
		"data null":             `{"numResults":0,"data":null}`,
		"data object":           `{"data":{"a":1}}`,
		"data string":           `{"data":"[]"}`,
		"data number":           `{"data":5}`,
		"data empty":            `{"data":[]}`,
		"data twice":            `{"data":[` + goodRecord + `],"data":[]}`,
		"data twice 2":          `{"data":[],"data":[` + goodRecord + `]}`,
		"DATA upper":            `{"NUMRESULTS":"1","DATA":[` + goodRecord + `]}`,
		"numResults twice":      `{"numResults":1,"numResults":"x","data":[]}`,
		"numResults huge":       `{"numResults":1e400,"data":[]}`,
		"numResults object":     `{"numResults":{"a":[1]},"data":[]}`,
		"key escaped":           `{"d\u0061ta":[` + goodRecord + `]}`,
		"key non-ascii":         `{"dåta":[],"data":[` + goodRecord + `]}`,
		"trailing garbage":      `{"data":[]}x`,
		"trailing comma":        `{"data":[` + goodRecord + `,]}`,
		"trailing comma obj":    `{"data":[],}`,
		"truncated":             `{"data":[` + goodRecord[:40],
		"two values":            `{"data":[]} {"data":[]}`,
		"bom":                   "\ufeff" + `{"data":[]}`,
		"record number":         `{"data":[5,` + goodRecord + `,-0.5e3]}`,
		"record null":           `{"data":[null,` + goodRecord + `]}`,
		"record string":         `{"data":["not an object",` + goodRecord + `]}`,
		"record list":           `{"data":[[1,2],` + goodRecord + `]}`,
		"record true":           `{"data":[true]}`,
		"deep junk 100":         rec(`"metaInfo":` + deep(100)),
		"deep junk 600":         rec(`"metaInfo":` + deep(600)),
		"deep junk 20000":       rec(`"metaInfo":` + deep(20000)),
		"deep junk 9990":        rec(`"metaInfo":` + deep(9990)),
		"deep junk 10500":       rec(`"metaInfo":` + deep(10500)),
		"deep in text field":    rec(`"channel":` + deep(50)),
		"deep destinations":     rec(`"destinations":[` + deep(700) + `]`),
		"dup conversationId":    rec(`"conversationId":"c-2"`),
		"dup fold":              rec(`"CONVERSATIONID":"c-3"`),
		"dup destinations":      rec(`"destinations":[{"queueId":"a","holdDuration":5}],"destinations":[{"queueName":"b"}]`),
		"dup respondingAgent":   rec(`"destinations":[{"respondingAgent":{"status":"x","holdDuration":1},"respondingAgent":{"agentId":"a"}}]`),
		"dup campaign":          rec(`"campaigninfo":{"attempt":1},"campaigninfo":{"campaignName":"n"}`),
		"dup campaign null":     rec(`"campaigninfo":{"attempt":1},"campaigninfo":null`),
		"dup dispositions":      rec(`"dispositions":["a","b"],"dispositions":"c"`),
		"huge numbers":          rec(`"csatScore":1e308,"npsScore":1e309,"likeDislikeScore":-1e400,"channel":1e308`),
		"huge id":               `{"data":[{"conversationId":123456789012345678901234567890e300,"sessionStartTime":"2025-01-01"}]}`,
		"negative zero":         rec(`"csatScore":-0,"npsScore":"-0","likeDislikeScore":-0.0e0`),
		"numbers as text":       rec(`"csatScore":" 4 ","npsScore":"\u00a05","likeDislikeScore":"\t","channel":12.50`),
		"number words":          rec(`"csatScore":"NaN","npsScore":"Infinity","likeDislikeScore":"0x1p-2"`),
		"number escaped":        rec(`"csatScore":"\u0034","npsScore":"4\n"`),
		"bool variants":         rec(`"isVoicemail":1,"destinations":[{"CallbackOpted":"Y"},{"CallbackOpted":" no "},{"CallbackOpted":0},{"CallbackOpted":"yeſ"},{"CallbackOpted":"\u0059ES"},{"CallbackOpted":{}},{"CallbackOpted":"maybe"}]`),
		"bool null":             rec(`"isVoicemail":null`),
		"text shapes":           rec(`"channel":{"a":1},"Direction":["x"],"finalStatus":true,"surveyType":false,"sessionId":null`),
		"texts shapes":          `{"data":[` + strings.ReplaceAll(goodRecord, `"channel":"Voice"`, `"dispositions":[null,{"a":1},"x",2,true,[]]`) + `,` + strings.ReplaceAll(goodRecord, `"channel":"Voice"`, `"dispositions":[]`) + `,` + strings.ReplaceAll(goodRecord, `"channel":"Voice"`, `"dispositions":""`) + `,` + strings.ReplaceAll(goodRecord, `"channel":"Voice"`, `"dispositions":7`) + `]}`,
		"escapes":               rec(`"channel":"Vo\u0069ce\n","finalStatus":"\"CLOSED\"","Direction":"in\/bound","surveyType":"\ud83d\ude00 \ud800"`),
		"invalid utf8 text":     rec("\"channel\":\"Vo\xffice\",\"finalStatus\":\"\xc3\x28\""),
		"invalid utf8 skipped":  rec("\"customerInfo\":{\"name\":\"J\xffne\"},\"Reason\":\"\xed\xa0\x80\""),
		"invalid utf8 key":      rec("\"chann\xffel\":\"x\",\"channel\":\"Voice\""),
		"invalid utf8 in id":    `{"data":[{"conversationId":"c-` + "\xff\xfe" + `","sessionStartTime":"2025-01-01"}]}`,
		"utf8 text":             rec(`"channel":"Téléphone ☎","finalStatus":"结束"`),
		"control char raw":      rec("\"channel\":\"a\x01b\""),
		"control char escaped":  rec(`"channel":"a\u0001b"`),
		"bad escape":            rec(`"channel":"a\qb"`),
		"short unicode escape":  rec(`"channel":"a\u12"`),
		"folded keys":           `{"data":[{"ſessionStartTime":"2025-01-01","conversationId":"c-1","ſessionId":"x","\u212aey":1}]}`,
		"upper keys":            `{"data":[{"CONVERSATIONID":"c-1","SESSIONSTARTTIME":"2025-01-01T00:00:00","DESTINATIONS":[{"QUEUEID":"q","RESPONDINGAGENT":{"STATUS":"Answered","CONSULTINGAGENTS":[{"ASSIGNEDAT":"x"}]}}],"CAMPAIGNINFO":{"ATTEMPT":"2"}}]}`,
		"key with space":        rec(`"channel ":"x"," channel":"y"`),
		"long key":              rec(`"` + strings.Repeat("channel", 40) + `":"x"`),
		"empty key":             rec(`"":"x"`),
		"wrong shapes":          `{"data":[` + strings.Join([]string{rec0(`"destinations":{"oops":1}`), rec0(`"destinations":"x"`), rec0(`"destinations":[1]`), rec0(`"destinations":[{"respondingAgent":"x"}]`), rec0(`"destinations":[{"respondingAgent":[]}]`), rec0(`"destinations":[{"nonRespondingAgents":{}}]`), rec0(`"destinations":[{"ConsultingAgents":[{}, "x"]}]`), rec0(`"campaigninfo":[]`), rec0(`"campaigninfo":"x"`), rec0(`"destinations":[null,{"queueId":"q"},null]`), rec0(`"destinations":[{"nonRespondingAgents":[null,{"agentId":"a"}],"respondingAgent":null,"ConsultingAgents":null}]`)}, ",") + `]}`,
		"times":                 `{"data":[` + strings.Join([]string{rec0t("2025-01-02 10:00:00"), rec0t("2025-01-02T10:00:00.5"), rec0t("2025-01-02T10:00:00.123456789"), rec0t("2025-01-02T10:00:00.1234567891"), rec0t("2025-01-02T10:00:00,5"), rec0t("2025-01-02T10:00:00."), rec0t("2025-01-02T10:00:00Z"), rec0t("2025-01-02T10:00:00.810Z"), rec0t("2025-01-02T10:00:00+05:30"), rec0t("2025-01-02T10:00:00+0530"), rec0t("2025-02-29T10:00:00"), rec0t("2024-02-29T10:00:00"), rec0t("2025-04-31T00:00:00"), rec0t("2025-01-02T24:00:00"), rec0t("2025-01-02T10:60:00"), rec0t("2025-01-02T10:00:60"), rec0t("2025-13-02T10:00:00"), rec0t("2025-00-02T10:00:00"), rec0t("2025-01-00T10:00:00"), rec0t("0000-01-01T00:00:00"), rec0t("9999-12-31T23:59:59"), rec0t("+025-01-02T10:00:00"), rec0t("2025-1-02T10:00:00"), rec0t("2025-01-02T10:00"), rec0t("2025-01-02"), rec0t(" 2025-01-02T10:00:00 "), rec0t("2025-01-02t10:00:00"), rec0t("2025-01-02T10:00:00 "), rec0t("2025-01-02T10:00:00Zjunk"), rec0t("")}, ",") + `]}`,
		"start time number":     `{"data":[{"conversationId":"c-1","sessionStartTime":20250101}]}`,
		"whitespace everywhere": " \r\n{ \"numResults\" : 1 ,\t\"data\" :\n[ { \"conversationId\" : \"c-1\" , \"sessionStartTime\" : \"2025-01-01\" , \"destinations\" : [ ] , \"campaigninfo\" : { } } ] } \n",
		"bad literal":           rec(`"channel":nul`),
		"bad number":            rec(`"csatScore":01`),
		"bad number 2":          rec(`"csatScore":1.`),
		"bad number 3":          rec(`"csatScore":-`),
		"bad number 4":          rec(`"csatScore":1e+`),
		"bad number 5":          rec(`"csatScore":.5`),
		"bad number in skip":    rec(`"metaInfo":{"a":[1,2,03]}`),
		"missing colon":         `{"data" []}`,
		"missing colon record":  `{"data":[{"conversationId" "x"}]}`,
		"unquoted key":          `{"data":[{conversationId:"x"}]}`,
		"id too long":           `{"data":[{"conversationId":"` + strings.Repeat("x", 40000) + `","sessionStartTime":"2025-01-01"},` + goodRecord + `]}`,
		"id 128":                `{"data":[{"conversationId":"` + strings.Repeat("x", 128) + `","sessionStartTime":"2025-01-01"},{"conversationId":"` + strings.Repeat("y", 129) + `","sessionStartTime":"2025-01-01"}]}`,
		"session id too long":   `{"data":[{"sessionId":"` + strings.Repeat("s", 121) + `","sessionStartTime":"2025-01-01"}]}`,
		"id control":            `{"data":[{"conversationId":"c-\u0000-1","sessionStartTime":"2025-01-01"},{"conversationId":"c-\u007f","sessionStartTime":"2025-01-01"},{"conversationId":"c-\u0085","sessionStartTime":"bad"}]}`,
		"id too long bad start": `{"data":[{"conversationId":"` + strings.Repeat("x", 200) + `","sessionStartTime":"soon"}]}`,
		"id too long malformed": `{"data":[{"conversationId":"` + strings.Repeat("x", 200) + `","destinations":{}}]}`,
		"id spaces":             `{"data":[{"conversationId":"  ","sessionId":" s-1 ","sessionStartTime":"2025-01-01"}]}`,
		"nested nulls":          rec(`"destinations":null,"campaigninfo":null,"dispositions":null,"csatScore":null`),
		"empty objects":         `{"data":[{},{"conversationId":""},{"destinations":[]}]}`,
		"deep in known list":    rec(`"dispositions":[` + deep(300) + `]`),
		"ignored fields typed":  rec(`"Loc":"x","Start":5,"End":{},"-":1`),
		"numbers every shape":   rec(`"destinations":[{"holdDuration":true,"interactionDuration":false,"afterCallWorkDuration":[1],"firstResponseDuration":"1e3"}]`),
	}
}

// rec0 is a record with extra fields, for lists of records.
func rec0(fields string) string {
	return `{"conversationId":"c-1","sessionStartTime":"2025-01-01T10:00:00",` + fields + `}`
}

// rec0t is a record with that start time.
func rec0t(start string) string {
	return fmt.Sprintf(`{"conversationId":"c-1","sessionStartTime":%q,"destinations":[{"respondingAgent":{"acceptedTime":%q}}]}`, start, start)
}

func TestEquivalenceHostile(t *testing.T) {
	for name, body := range hostileBodies() {
		for _, loc := range []*time.Location{time.UTC, ZoneForOffset(-330)} {
			checkEquivalent(t, name, []byte(body), loc)
		}
	}
}

// TestEquivalenceBrokenRecords puts hostile records at random positions of
// real pages, and also cuts and flips bytes at random.
func TestEquivalenceBrokenRecords(t *testing.T) {
	junk := []string{`5`, `null`, `"x"`, `[]`, `{}`, `true`, `-1e308`, `{"destinations":{}}`,
		`{"conversationId":{"a":1},"sessionStartTime":"2025-01-01"}`, `{"conversationId":"c-9","sessionStartTime":"never"}`,
		`{"conversationId":"` + strings.Repeat("z", 300) + `","sessionStartTime":"2025-01-01"}`,
		`{"conversationId":"c-8","sessionStartTime":"2025-01-01","conversationId":"c-7"}`,
		"{\"conversationId\":\"c-\xff\",\"sessionStartTime\":\"2025-01-01\"}",
		`{"sessionId":"s","sessionStartTime":"2025-01-01","metaInfo":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"ſessionId":"s","sessionStartTime":"2025-01-01"}`}
	pages, junkRounds, mutationRounds := realisticPages(t, 6), 20, 40
	if testing.Short() {
		pages, junkRounds, mutationRounds = pages[:1], 10, 20
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pg := range pages {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(pg.body, &page); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < junkRounds; round++ {
			data := append([]json.RawMessage(nil), page.Data...)
			for k := 0; k < 1+rng.IntN(5); k++ {
				data[rng.IntN(len(data))] = json.RawMessage(junk[rng.IntN(len(junk))])
			}
			var b bytes.Buffer
			b.WriteString(`{"numResults":100,"data":[`)
			for i, r := range data {
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(r)
			}
			b.WriteString("]}")
			checkEquivalent(t, fmt.Sprintf("%s/junk%d", pg.name, round), b.Bytes(), pg.loc)
		}
		for round := 0; round < mutationRounds; round++ {
			body := bytes.Clone(pg.body)
			switch round % 4 {
			case 0: // flip a byte
				body[rng.IntN(len(body))] = byte(rng.IntN(256))
			case 1: // cut
				body = body[:rng.IntN(len(body))]
			case 2: // drop a byte
				i := rng.IntN(len(body))
				body = append(body[:i], body[i+1:]...)
			case 3: // replace a quote's neighbour with a structural byte
				i := rng.IntN(len(body))
				const structural = "{}[],:\"\\ 0-"
				body[i] = structural[rng.IntN(len(structural))]
			}
			checkEquivalent(t, fmt.Sprintf("%s/mutation%d", pg.name, round), body, pg.loc)
		}
	}
}

// TestEveryFieldDecoded builds a record that sets every field of every
// struct through its JSON tag (as written and upper-cased) and checks the
// one-pass decoder fills it as encoding/json does without deferring: a field
// added to a struct but not to the one-pass decoder fails here.
func TestEveryFieldDecoded(t *testing.T) {
	for _, upper := range []bool{false, true} {
		n := 0
		rec := fullObject(reflect.TypeFor[Conversation](), upper, &n)
		b, err := json.Marshal(map[string]any{"numResults": 1, "data": []any{rec}})
		if err != nil {
			t.Fatal(err)
		}
		checkEquivalent(t, fmt.Sprintf("upper=%v", upper), b, ZoneForOffset(300))
		if kept, deferred := fastStats(b, ZoneForOffset(300)); !kept || deferred != 0 {
			t.Errorf("upper=%v: kept %v, deferred %d: %s", upper, kept, deferred, b)
		}
		p, _ := DecodePage(b, ZoneForOffset(300))
		if len(p.Records) != 1 {
			t.Fatalf("record invalid: %+v", p.Invalid)
		}
		// Every leaf was set: no field is zero.
		var zero []string
		findZero(&zero, "Conversation", reflect.ValueOf(p.Records[0]))
		if len(zero) > 0 {
			t.Errorf("fields left zero: %v", zero)
		}
	}
}

// fullObject gives every tagged field of t a distinct non-zero value.
func fullObject(t reflect.Type, upper bool, n *int) map[string]any {
	m := map[string]any{}
	for f := range t.Fields() {
		if f.Anonymous {
			maps.Copy(m, fullObject(f.Type, upper, n))
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" || tag == "" {
			continue
		}
		if upper {
			tag = strings.ToUpper(tag)
		}
		*n++
		m[tag] = fullValue(f.Type, upper, n)
	}
	return m
}

func fullValue(t reflect.Type, upper bool, n *int) any {
	switch t {
	case reflect.TypeFor[Text]():
		return fmt.Sprintf("text-%d", *n)
	case reflect.TypeFor[Number]():
		return *n
	case reflect.TypeFor[Bool]():
		return "YES"
	case reflect.TypeFor[Time]():
		return time.Date(2025, 1, 2, 3, 4, *n%60, 0, time.UTC).Format("2006-01-02T15:04:05")
	case reflect.TypeFor[Texts]():
		return []string{fmt.Sprintf("a-%d", *n), fmt.Sprintf("b-%d", *n)}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return fullObject(t.Elem(), upper, n)
	case reflect.Slice:
		return []any{fullObject(t.Elem(), upper, n), fullObject(t.Elem(), upper, n)}
	}
	panic("no value for " + t.String())
}

func findZero(zero *[]string, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() || v.Type() == reflect.TypeFor[Number]() || v.Type() == reflect.TypeFor[Bool]() {
			if v.IsZero() {
				*zero = append(*zero, path)
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			findZero(zero, path+"."+v.Type().Field(i).Name, v.Field(i))
		}
	case reflect.Slice, reflect.Pointer:
		if v.IsNil() {
			*zero = append(*zero, path)
			return
		}
		if v.Kind() == reflect.Pointer {
			if v.Type() != reflect.TypeFor[*time.Location]() {
				findZero(zero, path, v.Elem())
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			findZero(zero, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	default:
		if v.IsZero() {
			*zero = append(*zero, path)
		}
	}
}

// TestFieldNamesFoldUniquely: the one-pass decoder matches keys with one
// case-insensitive comparison, which is encoding/json's exact-then-folded
// lookup only if no two fields of a struct fold alike.
func TestFieldNamesFoldUniquely(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Conversation](), reflect.TypeFor[Destination](),
		reflect.TypeFor[Segment](), reflect.TypeFor[Consult](), reflect.TypeFor[Campaign](), reflect.TypeFor[rawPage]()} {
		seen := map[string]string{}
		var walk func(reflect.Type)
		walk = func(typ reflect.Type) {
			for f := range typ.Fields() {
				if f.Anonymous {
					walk(f.Type)
					continue
				}
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				if len(tag) > maxKeyLen {
					t.Errorf("%s.%s: tag %q longer than maxKeyLen", typ, f.Name, tag)
				}
				if prev, ok := seen[strings.ToLower(tag)]; ok {
					t.Errorf("%s: %q and %q fold alike", typ, prev, tag)
				}
				seen[strings.ToLower(tag)] = tag
			}
		}
		walk(typ)
	}
}
