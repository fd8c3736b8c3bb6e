package conversation

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is a one-pass decoder for the call-details page: it walks the
// body once, validating it as it goes, and fills the records directly. The
// encoding/json path scans a page about six times (the body, the data array
// and its copy, each record, each flexible field again through a nested
// json.Unmarshal); this one is about ten times as fast on realistic pages
// (BenchmarkDecode, BENCHMARKS.md).
//
// It is not a second definition of the format: encoding/json's answer
// (decodePageStd, decodeRecord) is. This decoder only takes the shapes whose
// encoding/json result it reproduces exactly, and hands everything else
// back:
//
//   - the whole body, when it is not well-formed JSON by the same grammar as
//     encoding/json's scanner (or nests deeper than maxDepth), or is not an
//     object with one "data" that is an array or null: decodePageStd then
//     gives the same error, or the same page, as it always did. So a body is
//     accepted here only if encoding/json accepts it too.
//   - one record (deferRecord), when it holds something whose encoding/json
//     semantics are subtle: a value of the wrong structure (an object where
//     a list belongs: encoding/json records a type error, keeps filling the
//     other fields and the record is malformed with that error and its
//     partial id), a key with escapes or non-ASCII bytes (encoding/json folds
//     keys with Unicode rules: "ſessionId" is sessionId), a duplicated key
//     (encoding/json merges the second value into the first). That record's
//     bytes, already validated, go to decodeRecord; the rest of the page
//     stays here.
//
// What it does take it decodes as encoding/json does with this package's
// types: keys match a field case-insensitively (for ASCII keys and the
// all-ASCII field names, encoding/json's folding is ASCII case folding, and
// no two fields of a struct fold alike, so exact-match-first changes
// nothing), unknown keys are skipped, null leaves a pointer or slice nil and
// a struct element zero, [] is an empty non-nil slice, and each flexible type
// (Text, Number, Bool, Time, Texts) gets the value its UnmarshalJSON would
// give — for strings with escapes or invalid UTF-8, by calling that very
// UnmarshalJSON.

// maxDepth bounds nesting. encoding/json allows 10000; a deeper page is
// left to it (nothing real nests more than 8).
const maxDepth = 512

// pageDecoder holds the body and the position in it.
type pageDecoder struct {
	buf []byte
	pos int
	// broken: the body goes to decodePageStd. fail() also moves pos to the
	// end, so every loop stops at once.
	broken bool
	// deferRecord: the current record goes to decodeRecord; deferred
	// counts them (the tests check real pages defer none).
	deferRecord bool
	deferred    int
	keyBuf      [maxKeyLen]byte
}

// maxKeyLen is longer than every field name: a longer key is unknown.
const maxKeyLen = 24

func (d *pageDecoder) fail() {
	d.broken = true
	d.pos = len(d.buf)
}

// decodePageFast decodes a page; ok is false when the body is left to
// decodePageStd.
func decodePageFast(body []byte, loc *time.Location) (Page, bool) {
	d := pageDecoder{buf: body}
	return d.page(loc)
}

func (d *pageDecoder) page(loc *time.Location) (p Page, ok bool) {
	d.skipSpace()
	if d.peek() != '{' {
		return Page{}, false // not an object: null, a list, junk
	}
	d.pos++
	var haveNum, haveData bool
	for more := d.firstMember(); more; more = d.nextMember() {
		key, plain := d.key()
		if !plain {
			return Page{}, false
		}
		switch string(key) {
		case "numresults":
			if haveNum {
				return Page{}, false // duplicated: let encoding/json pick
			}
			haveNum = true
			p.NumResults = d.number(1)
		case "data":
			if haveData {
				return Page{}, false
			}
			haveData = true
			if !d.data(&p, loc) {
				return Page{}, false
			}
		default:
			d.skipValue(1)
		}
	}
	d.skipSpace()
	if d.broken || d.pos != len(d.buf) || !haveData {
		return Page{}, false
	}
	return p, true
}

// data decodes the data array into p; false leaves the page to
// decodePageStd (data is neither a list nor null).
func (d *pageDecoder) data(p *Page, loc *time.Location) bool {
	switch d.peek() {
	case 'n':
		d.literal("null")
		p.Records = []Conversation{}
		return true
	case '[':
	default:
		return false
	}
	d.pos++
	// A full page has 100 records of 1 to 2 kB each.
	p.Records = make([]Conversation, 0, min(100, len(d.buf)/1024+1))
	for more := d.firstElement(); more; more = d.nextElement() {
		index, start := p.Len, d.pos
		p.Len++
		p.Records = append(p.Records, Conversation{})
		c := &p.Records[len(p.Records)-1]
		d.deferRecord = false
		if d.peek() == '{' {
			d.pos++
			d.conversation(c)
		} else {
			d.deferRecord = true // a record that is not an object: malformed or, for null, missing_id
			d.skipValue(recordDepth)
		}
		if d.broken {
			return false
		}
		var reason string
		var err error
		if d.deferRecord {
			d.deferred++
			*c = Conversation{}
			reason, err = decodeRecord(d.buf[start:d.pos], loc, c)
		} else {
			reason, err = finishRecord(c, loc)
		}
		if reason != "" {
			p.Invalid = append(p.Invalid, invalidRecord(index, c, reason, err))
			p.Records = p.Records[:len(p.Records)-1]
		}
	}
	return !d.broken
}

// Field numbers, one set per struct. 0 is an unknown key, skipped.
const (
	_ = iota
	cConversationID
	cSessionID
	cChannel
	cDirection
	cFinalStatus
	cIsVoicemail
	cStartTime
	cEndTime
	cDispositions
	cCSATScore
	cNPSScore
	cLikeDislike
	cSurveyType
	cDestinations
	cCampaign
)

// conversationField maps a lower-cased key to a Conversation field.
func conversationField(key []byte) int {
	switch string(key) {
	case "conversationid":
		return cConversationID
	case "sessionid":
		return cSessionID
	case "channel":
		return cChannel
	case "direction":
		return cDirection
	case "finalstatus":
		return cFinalStatus
	case "isvoicemail":
		return cIsVoicemail
	case "sessionstarttime":
		return cStartTime
	case "sessionendtime":
		return cEndTime
	case "dispositions":
		return cDispositions
	case "csatscore":
		return cCSATScore
	case "npsscore":
		return cNPSScore
	case "likedislikescore":
		return cLikeDislike
	case "surveytype":
		return cSurveyType
	case "destinations":
		return cDestinations
	case "campaigninfo":
		return cCampaign
	}
	return 0
}

// Record depths: the page is 1, data 2, a record 3, its destinations 4...
const recordDepth = 3

// The struct decoders start after the object's '{' and end after its '}'.

func (d *pageDecoder) conversation(c *Conversation) {
	const depth = recordDepth
	var seen uint64
	for more := d.firstMember(); more; more = d.nextMember() {
		f := conversationField(d.recordKey())
		if f == 0 {
			d.skipValue(depth + 1)
			continue
		}
		d.markSeen(&seen, f)
		switch f {
		case cConversationID:
			c.ConversationID = d.text(depth + 1)
		case cSessionID:
			c.SessionID = d.text(depth + 1)
		case cChannel:
			c.Channel = d.text(depth + 1)
		case cDirection:
			c.Direction = d.text(depth + 1)
		case cFinalStatus:
			c.FinalStatus = d.text(depth + 1)
		case cIsVoicemail:
			c.IsVoicemail = d.boolean(depth + 1)
		case cStartTime:
			c.StartTime = d.timestamp(depth + 1)
		case cEndTime:
			c.EndTime = d.timestamp(depth + 1)
		case cDispositions:
			c.Dispositions = d.texts(depth + 1)
		case cCSATScore:
			c.CSATScore = d.number(depth + 1)
		case cNPSScore:
			c.NPSScore = d.number(depth + 1)
		case cLikeDislike:
			c.LikeDislike = d.number(depth + 1)
		case cSurveyType:
			c.SurveyType = d.text(depth + 1)
		case cDestinations:
			c.Destinations = d.destinations(depth + 1)
		case cCampaign:
			c.Campaign = d.campaign(depth + 1)
		}
	}
}

// Segment fields, then the fields Destination adds to its embedded Segment.
const (
	_ = iota
	sAgentID
	sDestinationType
	sStatus
	sFirstResponseDuration
	sInteractionDuration
	sHoldDuration
	sAfterCallWorkDuration
	sAssignedAt
	sAcceptedTime
	sFirstResponseTime
	sInteractionEndTime
	sAfterCallWorkEndTime
	sConsultingAgents
	sNonResponseEvent
	segmentFields // the fields below are Destination's own
	dQueueID
	dQueueName
	dCallbackOpted
	dEnterTime
	dRespondingAgent
	dNonRespondingAgents
)

func segmentField(key []byte) int {
	switch string(key) {
	case "agentid":
		return sAgentID
	case "destinationtype":
		return sDestinationType
	case "status":
		return sStatus
	case "firstresponseduration":
		return sFirstResponseDuration
	case "interactionduration":
		return sInteractionDuration
	case "holdduration":
		return sHoldDuration
	case "aftercallworkduration":
		return sAfterCallWorkDuration
	case "assignedat":
		return sAssignedAt
	case "acceptedtime":
		return sAcceptedTime
	case "firstresponsetime":
		return sFirstResponseTime
	case "interactionendtime":
		return sInteractionEndTime
	case "aftercallworkendtime":
		return sAfterCallWorkEndTime
	case "consultingagents":
		return sConsultingAgents
	case "nonresponseevent":
		return sNonResponseEvent
	}
	return 0
}

// destinationField: a Destination has its own fields and its Segment's,
// which encoding/json promotes (no name is in both).
func destinationField(key []byte) int {
	switch string(key) {
	case "queueid":
		return dQueueID
	case "queuename":
		return dQueueName
	case "callbackopted":
		return dCallbackOpted
	case "entertime":
		return dEnterTime
	case "respondingagent":
		return dRespondingAgent
	case "nonrespondingagents":
		return dNonRespondingAgents
	}
	return segmentField(key)
}

// segmentMember decodes the value of one Segment field.
func (d *pageDecoder) segmentMember(s *Segment, f, depth int) {
	switch f {
	case sAgentID:
		s.AgentID = d.text(depth)
	case sDestinationType:
		s.DestinationType = d.text(depth)
	case sStatus:
		s.Status = d.text(depth)
	case sFirstResponseDuration:
		s.FirstResponseDuration = d.number(depth)
	case sInteractionDuration:
		s.InteractionDuration = d.number(depth)
	case sHoldDuration:
		s.HoldDuration = d.number(depth)
	case sAfterCallWorkDuration:
		s.AfterCallWorkDuration = d.number(depth)
	case sAssignedAt:
		s.AssignedAt = d.timestamp(depth)
	case sAcceptedTime:
		s.AcceptedTime = d.timestamp(depth)
	case sFirstResponseTime:
		s.FirstResponseTime = d.timestamp(depth)
	case sInteractionEndTime:
		s.InteractionEndTime = d.timestamp(depth)
	case sAfterCallWorkEndTime:
		s.AfterCallWorkEndTime = d.timestamp(depth)
	case sConsultingAgents:
		s.ConsultingAgents = d.consults(depth)
	case sNonResponseEvent:
		s.NonResponseEvent = d.text(depth)
	}
}

func (d *pageDecoder) segment(s *Segment, depth int) {
	var seen uint64
	for more := d.firstMember(); more; more = d.nextMember() {
		f := segmentField(d.recordKey())
		if f == 0 {
			d.skipValue(depth + 1)
			continue
		}
		d.markSeen(&seen, f)
		d.segmentMember(s, f, depth+1)
	}
}

func (d *pageDecoder) destination(dst *Destination, depth int) {
	var seen uint64
	for more := d.firstMember(); more; more = d.nextMember() {
		f := destinationField(d.recordKey())
		if f == 0 {
			d.skipValue(depth + 1)
			continue
		}
		d.markSeen(&seen, f)
		switch f {
		case dQueueID:
			dst.QueueID = d.text(depth + 1)
		case dQueueName:
			dst.QueueName = d.text(depth + 1)
		case dCallbackOpted:
			dst.CallbackOpted = d.boolean(depth + 1)
		case dEnterTime:
			dst.EnterTime = d.timestamp(depth + 1)
		case dRespondingAgent:
			dst.RespondingAgent = d.segmentPointer(depth + 1)
		case dNonRespondingAgents:
			dst.NonRespondingAgents = d.segments(depth + 1)
		default:
			d.segmentMember(&dst.Segment, f, depth+1)
		}
	}
}

func (d *pageDecoder) consult(c *Consult, depth int) {
	const (
		assignedAt = iota + 1
		acceptedTime
		consultingEndTime
	)
	var seen uint64
	for more := d.firstMember(); more; more = d.nextMember() {
		var f int
		switch string(d.recordKey()) {
		case "assignedat":
			f = assignedAt
		case "acceptedtime":
			f = acceptedTime
		case "consultingendtime":
			f = consultingEndTime
		default:
			d.skipValue(depth + 1)
			continue
		}
		d.markSeen(&seen, f)
		switch f {
		case assignedAt:
			c.AssignedAt = d.timestamp(depth + 1)
		case acceptedTime:
			c.AcceptedTime = d.timestamp(depth + 1)
		case consultingEndTime:
			c.ConsultingEndTime = d.timestamp(depth + 1)
		}
	}
}

func (d *pageDecoder) campaignObject(c *Campaign, depth int) {
	const (
		campaignName = iota + 1
		campaignID
		attempt
		contactStatus
	)
	var seen uint64
	for more := d.firstMember(); more; more = d.nextMember() {
		var f int
		switch string(d.recordKey()) {
		case "campaignname":
			f = campaignName
		case "campaignid":
			f = campaignID
		case "attempt":
			f = attempt
		case "contactstatus":
			f = contactStatus
		default:
			d.skipValue(depth + 1)
			continue
		}
		d.markSeen(&seen, f)
		switch f {
		case campaignName:
			c.CampaignName = d.text(depth + 1)
		case campaignID:
			c.CampaignID = d.text(depth + 1)
		case attempt:
			c.Attempt = d.number(depth + 1)
		case contactStatus:
			c.ContactStatus = d.text(depth + 1)
		}
	}
}

// markSeen defers a record whose object names a field twice: encoding/json
// would decode the second value over the first (merging objects, reusing
// list elements), which is not worth reproducing here.
func (d *pageDecoder) markSeen(seen *uint64, f int) {
	if *seen&(1<<f) != 0 {
		d.deferRecord = true
	}
	*seen |= 1 << f
}

// Lists and pointers of structs. encoding/json sets null to nil, [] to an
// empty non-nil slice, a null element to a zero one; any other shape is a
// type error, so the record is deferred (and its value skipped).

func (d *pageDecoder) destinations(depth int) []Destination {
	if d.nullOrWrongShape('[', depth) {
		return nil
	}
	out := []Destination{}
	for more := d.firstElement(); more; more = d.nextElement() {
		out = append(out, Destination{})
		if d.peek() == '{' {
			d.pos++
			d.destination(&out[len(out)-1], depth+1)
		} else if !d.nullElement(depth + 1) {
			break
		}
	}
	return out
}

func (d *pageDecoder) segments(depth int) []Segment {
	if d.nullOrWrongShape('[', depth) {
		return nil
	}
	out := []Segment{}
	for more := d.firstElement(); more; more = d.nextElement() {
		out = append(out, Segment{})
		if d.peek() == '{' {
			d.pos++
			d.segment(&out[len(out)-1], depth+1)
		} else if !d.nullElement(depth + 1) {
			break
		}
	}
	return out
}

func (d *pageDecoder) consults(depth int) []Consult {
	if d.nullOrWrongShape('[', depth) {
		return nil
	}
	out := []Consult{}
	for more := d.firstElement(); more; more = d.nextElement() {
		out = append(out, Consult{})
		if d.peek() == '{' {
			d.pos++
			d.consult(&out[len(out)-1], depth+1)
		} else if !d.nullElement(depth + 1) {
			break
		}
	}
	return out
}

func (d *pageDecoder) segmentPointer(depth int) *Segment {
	if d.nullOrWrongShape('{', depth) {
		return nil
	}
	s := new(Segment)
	d.segment(s, depth)
	return s
}

func (d *pageDecoder) campaign(depth int) *Campaign {
	if d.nullOrWrongShape('{', depth) {
		return nil
	}
	c := new(Campaign)
	d.campaignObject(c, depth)
	return c
}

// nullOrWrongShape reads a null (true) or the opening byte want (false,
// pos after it); anything else defers the record and is skipped (true).
func (d *pageDecoder) nullOrWrongShape(want byte, depth int) bool {
	switch d.peek() {
	case want:
		d.pos++
		return false
	case 'n':
		d.literal("null")
	default:
		d.deferRecord = true
		d.skipValue(depth)
	}
	return true
}

// nullElement reads a list element that is not an object: a null is a zero
// element; anything else defers the record. It reports whether to go on.
func (d *pageDecoder) nullElement(depth int) bool {
	if d.peek() == 'n' {
		d.literal("null")
		return true
	}
	d.deferRecord = true
	d.skipValue(depth)
	return !d.broken
}

// The flexible types. Each gives what its UnmarshalJSON gives for the
// value's bytes; for a string with escapes or invalid UTF-8 it calls that
// UnmarshalJSON (encoding/json's unquoting: rare, and exact by definition).

// text is Text.UnmarshalJSON: a string's text, a number or boolean's JSON
// text, "" for null, an object or a list.
func (d *pageDecoder) text(depth int) Text {
	switch d.peek() {
	case '"':
		start := d.pos
		s, plain := d.stringToken()
		if !plain {
			var t Text
			if err := t.UnmarshalJSON(d.buf[start:d.pos]); err != nil {
				d.deferRecord = true
			}
			return t
		}
		return Text(s)
	case 'n':
		d.literal("null")
		return ""
	case 't':
		d.literal("true")
		return "true"
	case 'f':
		d.literal("false")
		return "false"
	case '{', '[':
		d.skipValue(depth)
		return ""
	}
	return Text(d.numberToken())
}

// timestamp is Time.UnmarshalJSON: the text, trimmed.
func (d *pageDecoder) timestamp(depth int) Time {
	return Time{Raw: strings.TrimSpace(string(d.text(depth)))}
}

// texts is Texts.UnmarshalJSON: a list's elements as Text (null and objects
// becoming ""), or one non-empty text; nil for null, "" and [].
func (d *pageDecoder) texts(depth int) Texts {
	if d.peek() != '[' {
		if one := d.text(depth); one != "" {
			return Texts{string(one)}
		}
		return nil
	}
	d.pos++
	var out Texts
	for more := d.firstElement(); more; more = d.nextElement() {
		out = append(out, string(d.text(depth+1)))
	}
	return out
}

// number is Number.UnmarshalJSON.
func (d *pageDecoder) number(depth int) Number {
	switch d.peek() {
	case '"':
		start := d.pos
		s, plain := d.stringToken()
		if !plain {
			var n Number
			_ = n.UnmarshalJSON(d.buf[start:d.pos]) // never fails
			return n
		}
		// A string's number may have spaces around it; "" is absent.
		if s = bytes.TrimSpace(s); len(s) == 0 {
			return Number{}
		}
		return parseNumber(s)
	case 'n':
		d.literal("null")
		return Number{}
	case 't':
		d.literal("true")
		return Number{Bad: true}
	case 'f':
		d.literal("false")
		return Number{Bad: true}
	case '{', '[':
		d.skipValue(depth)
		return Number{Bad: true}
	}
	return parseNumber(d.numberToken())
}

// parseNumber is strconv.ParseFloat, as Number.UnmarshalJSON calls it (the
// string conversion does not escape, so it does not allocate).
func parseNumber(s []byte) Number {
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return Number{Bad: true}
	}
	return Number{Value: v, Set: true}
}

// boolean is Bool.UnmarshalJSON.
func (d *pageDecoder) boolean(depth int) Bool {
	switch d.peek() {
	case '"':
		start := d.pos
		s, plain := d.stringToken()
		if !plain {
			var v Bool
			_ = v.UnmarshalJSON(d.buf[start:d.pos]) // never fails
			return v
		}
		return boolWord(s)
	case 'n':
		d.literal("null")
		return Bool{}
	case 't':
		d.literal("true")
		return Bool{Value: true, Set: true}
	case 'f':
		d.literal("false")
		return Bool{Set: true}
	case '{', '[':
		d.skipValue(depth)
		return Bool{}
	}
	return boolWord(d.numberToken()) // 1 and 0
}

// boolWord is Bool.UnmarshalJSON's reading of a word. strings.ToLower and
// TrimSpace are called as there: they are Unicode-aware, and a non-ASCII
// word must not match where they would not.
func boolWord(s []byte) Bool {
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "yes", "y", "1":
		return Bool{Value: true, Set: true}
	case "false", "no", "n", "0":
		return Bool{Set: true}
	}
	return Bool{}
}

// The scanner. Its grammar is encoding/json's: whitespace is space, tab, CR
// and LF; strings hold no byte below 0x20 and only the escapes \" \\ \/ \b
// \f \n \r \t \uXXXX, but any other byte (invalid UTF-8 included);
// numbers are -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; literals
// are true, false, null.

func (d *pageDecoder) peek() byte {
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0 // end of input; never valid where a value or delimiter is expected
}

func (d *pageDecoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// firstMember is called after '{': it reports whether a member follows
// (pos at its key) or the object is empty (pos after '}').
func (d *pageDecoder) firstMember() bool {
	d.skipSpace()
	if d.peek() == '}' {
		d.pos++
		return false
	}
	return !d.broken
}

// nextMember is called after a member's value: ',' then the next key, or '}'.
func (d *pageDecoder) nextMember() bool {
	d.skipSpace()
	switch d.peek() {
	case ',':
		d.pos++
		d.skipSpace()
		if d.peek() != '"' {
			d.fail() // a trailing comma, or a key that is not a string
			return false
		}
		return true
	case '}':
		d.pos++
		return false
	}
	d.fail()
	return false
}

// firstElement is called after '[': whether an element follows (pos at it).
func (d *pageDecoder) firstElement() bool {
	d.skipSpace()
	if d.peek() == ']' {
		d.pos++
		return false
	}
	return !d.broken
}

func (d *pageDecoder) nextElement() bool {
	d.skipSpace()
	switch d.peek() {
	case ',':
		d.pos++
		d.skipSpace()
		return !d.broken
	case ']':
		d.pos++
		return false
	}
	d.fail()
	return false
}

// key reads a member's key and the colon after it, positioning at the value.
// It returns the key lower-cased, and whether it is plain ASCII without
// escapes (only then does the lower-cased form say which field it names).
// A key longer than maxKeyLen comes back as nil: it names no field.
func (d *pageDecoder) key() ([]byte, bool) {
	if d.peek() != '"' {
		d.fail()
		return nil, true
	}
	s, ascii := d.asciiStringToken()
	d.skipSpace()
	if d.peek() != ':' {
		d.fail()
		return nil, true
	}
	d.pos++
	d.skipSpace()
	if !ascii {
		return nil, false
	}
	if len(s) > maxKeyLen {
		return nil, true
	}
	k := d.keyBuf[:len(s)]
	for i, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k[i] = c
	}
	return k, true
}

// recordKey is key inside a record: a key it cannot match defers the record.
func (d *pageDecoder) recordKey() []byte {
	k, plain := d.key()
	if !plain {
		d.deferRecord = true
		return nil
	}
	return k
}

// plainByte marks the bytes a string can hold as they are: printable ASCII
// other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// stringToken reads the string at pos. It returns the bytes between the
// quotes and whether they are plain: no escapes and valid UTF-8, so that
// they are exactly the string encoding/json decodes (which replaces invalid
// UTF-8 with U+FFFD and resolves escapes).
func (d *pageDecoder) stringToken() (text []byte, plain bool) {
	text, ascii, escaped := d.scanString()
	if ascii {
		return text, true
	}
	return text, !escaped && utf8.Valid(text)
}

// asciiStringToken reads a string and reports whether it is plain ASCII.
func (d *pageDecoder) asciiStringToken() (text []byte, ascii bool) {
	text, ascii, _ = d.scanString()
	return text, ascii
}

func (d *pageDecoder) scanString() (text []byte, ascii, escaped bool) {
	start := d.pos + 1
	i := start
	ascii = true
	for {
		for i < len(d.buf) && plainByte[d.buf[i]] {
			i++
		}
		if i >= len(d.buf) {
			d.fail() // unterminated
			return nil, true, false
		}
		switch c := d.buf[i]; {
		case c == '"':
			d.pos = i + 1
			return d.buf[start:i], ascii, escaped
		case c == '\\':
			ascii, escaped = false, true
			if i+1 >= len(d.buf) {
				d.fail()
				return nil, true, false
			}
			switch d.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d.buf) || !isHex(d.buf[i+2]) || !isHex(d.buf[i+3]) || !isHex(d.buf[i+4]) || !isHex(d.buf[i+5]) {
					d.fail()
					return nil, true, false
				}
				i += 6
			default:
				d.fail()
				return nil, true, false
			}
		case c < 0x20:
			d.fail() // a raw control character
			return nil, true, false
		default: // 0x80 and above: UTF-8, or not
			ascii = false
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// numberToken reads a number at pos and returns its text.
func (d *pageDecoder) numberToken() []byte {
	b, start := d.buf, d.pos
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		d.fail() // not a value at all, or a lone '-'
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			d.fail()
			return nil
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			d.fail()
			return nil
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	d.pos = i
	return b[start:i]
}

// literal reads true, false or null; pos is at its first letter.
func (d *pageDecoder) literal(word string) {
	if !bytes.HasPrefix(d.buf[d.pos:], []byte(word)) {
		d.fail()
		return
	}
	d.pos += len(word)
}

// skipValue reads and validates any value; depth is its nesting level.
func (d *pageDecoder) skipValue(depth int) {
	switch d.peek() {
	case '"':
		d.scanString()
	case '{':
		if depth > maxDepth {
			d.fail()
			return
		}
		d.pos++
		for more := d.firstMember(); more; more = d.nextMember() {
			if d.peek() != '"' {
				d.fail()
				return
			}
			d.scanString()
			d.skipSpace()
			if d.peek() != ':' {
				d.fail()
				return
			}
			d.pos++
			d.skipSpace()
			d.skipValue(depth + 1)
		}
	case '[':
		if depth > maxDepth {
			d.fail()
			return
		}
		d.pos++
		for more := d.firstElement(); more; more = d.nextElement() {
			d.skipValue(depth + 1)
		}
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		d.numberToken()
	}
}
