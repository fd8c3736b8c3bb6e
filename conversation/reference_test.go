package conversation

// A copy of the decoder as it was before the one-pass decoder (commit
// 4d52317), kept as the reference the equivalence tests and benchmarks
// compare against. Its types mirror the package's (same layout, same JSON
// tags) but carry the original methods, so that a change to flex.go cannot
// change the reference too; toConversation copies a decoded mirror into a
// Conversation field by field.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

type refText string

func (t *refText) UnmarshalJSON(b []byte) error {
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
		*t = refText(s)
		return nil
	}
	if b[0] == '{' || b[0] == '[' {
		*t = ""
		return nil
	}
	*t = refText(b)
	return nil
}

type refNumber struct {
	Value float64
	Set   bool
	Bad   bool
}

func (n *refNumber) UnmarshalJSON(b []byte) error {
	*n = refNumber{}
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

type refBool struct {
	Value bool
	Set   bool
}

func (v *refBool) UnmarshalJSON(b []byte) error {
	*v = refBool{}
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

type refTime struct {
	Raw string
}

func (t *refTime) UnmarshalJSON(b []byte) error {
	var txt refText
	if err := txt.UnmarshalJSON(b); err != nil {
		return err
	}
	t.Raw = strings.TrimSpace(string(txt))
	return nil
}

var refZonedLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"}

var refLocalLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

func (t refTime) In(loc *time.Location) (time.Time, bool) {
	if t.Raw == "" {
		return time.Time{}, false
	}
	for _, l := range refZonedLayouts {
		if v, err := time.Parse(l, t.Raw); err == nil {
			return v, true
		}
	}
	for _, l := range refLocalLayouts {
		if v, err := time.ParseInLocation(l, t.Raw, loc); err == nil {
			return v, true
		}
	}
	return time.Time{}, false
}

type refTexts []string

func (ts *refTexts) UnmarshalJSON(b []byte) error {
	*ts = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, null) {
		return nil
	}
	if b[0] != '[' {
		var one refText
		if err := one.UnmarshalJSON(b); err != nil {
			return err
		}
		if one != "" {
			*ts = refTexts{string(one)}
		}
		return nil
	}
	var many []refText
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	for _, s := range many {
		*ts = append(*ts, string(s))
	}
	return nil
}

type refConversation struct {
	ConversationID refText          `json:"conversationId"`
	SessionID      refText          `json:"sessionId"`
	Channel        refText          `json:"channel"`
	Direction      refText          `json:"Direction"`
	FinalStatus    refText          `json:"finalStatus"`
	IsVoicemail    refBool          `json:"isVoicemail"`
	StartTime      refTime          `json:"sessionStartTime"`
	EndTime        refTime          `json:"sessionEndTime"`
	Dispositions   refTexts         `json:"dispositions"`
	CSATScore      refNumber        `json:"csatScore"`
	NPSScore       refNumber        `json:"npsScore"`
	LikeDislike    refNumber        `json:"likeDislikeScore"`
	SurveyType     refText          `json:"surveyType"`
	Destinations   []refDestination `json:"destinations"`
	Campaign       *refCampaign     `json:"campaigninfo"`
	Loc            *time.Location   `json:"-"`
	Start          time.Time        `json:"-"`
	End            time.Time        `json:"-"`
}

type refSegment struct {
	AgentID               refText      `json:"agentId"`
	DestinationType       refText      `json:"destinationType"`
	Status                refText      `json:"status"`
	FirstResponseDuration refNumber    `json:"firstResponseDuration"`
	InteractionDuration   refNumber    `json:"interactionDuration"`
	HoldDuration          refNumber    `json:"holdDuration"`
	AfterCallWorkDuration refNumber    `json:"afterCallWorkDuration"`
	AssignedAt            refTime      `json:"assignedAt"`
	AcceptedTime          refTime      `json:"acceptedTime"`
	FirstResponseTime     refTime      `json:"firstResponseTime"`
	InteractionEndTime    refTime      `json:"interactionEndTime"`
	AfterCallWorkEndTime  refTime      `json:"afterCallWorkEndTime"`
	ConsultingAgents      []refConsult `json:"ConsultingAgents"`
	NonResponseEvent      refText      `json:"nonResponseEvent"`
}

type refDestination struct {
	refSegment
	QueueID             refText      `json:"queueId"`
	QueueName           refText      `json:"queueName"`
	CallbackOpted       refBool      `json:"CallbackOpted"`
	EnterTime           refTime      `json:"EnterTime"`
	RespondingAgent     *refSegment  `json:"respondingAgent"`
	NonRespondingAgents []refSegment `json:"nonRespondingAgents"`
}

type refConsult struct {
	AssignedAt        refTime `json:"assignedAt"`
	AcceptedTime      refTime `json:"acceptedTime"`
	ConsultingEndTime refTime `json:"consultingEndTime"`
}

type refCampaign struct {
	CampaignName  refText   `json:"campaignName"`
	CampaignID    refText   `json:"campaignId"`
	Attempt       refNumber `json:"attempt"`
	ContactStatus refText   `json:"contactStatus"`
}

func (c *refConversation) Key() string {
	if id := strings.TrimSpace(string(c.ConversationID)); id != "" {
		return id
	}
	if id := strings.TrimSpace(string(c.SessionID)); id != "" {
		return "session:" + id
	}
	return ""
}

func (c *refConversation) ParseTime(t refTime) (time.Time, bool) {
	loc := c.Loc
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc)
}

type refRawPage struct {
	NumResults refNumber       `json:"numResults"`
	Data       json.RawMessage `json:"data"`
}

// refDecodePage is DecodePage as it was, returning the package's types.
func refDecodePage(body []byte, loc *time.Location) (Page, error) {
	var raw refRawPage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Page{}, fmt.Errorf("decoding response: %w", err)
	}
	if len(raw.Data) == 0 {
		return Page{}, ErrNoData
	}
	var data []json.RawMessage
	if err := json.Unmarshal(raw.Data, &data); err != nil {
		return Page{}, fmt.Errorf(`decoding response: "data" is not a list: %w`, err)
	}
	p := Page{NumResults: Number(raw.NumResults), Len: len(data), Records: make([]Conversation, 0, len(data))}
	for i, msg := range data {
		var c refConversation
		if reason, err := refDecodeRecord(msg, loc, &c); reason != "" {
			p.Invalid = append(p.Invalid, Invalid{Index: i, Key: c.Key(), Reason: reason, Err: err})
			continue
		}
		p.Records = append(p.Records, toConversation(&c))
	}
	return p, nil
}

func refDecodeRecord(msg []byte, loc *time.Location, c *refConversation) (string, error) {
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

// toConversation copies a mirror record into a Conversation, field by
// field, keeping nil and empty slices apart.
func toConversation(c *refConversation) Conversation {
	var out Conversation
	mirrorCopy(reflect.ValueOf(&out).Elem(), reflect.ValueOf(c).Elem())
	return out
}

func mirrorCopy(dst, src reflect.Value) {
	switch {
	case src.Kind() == reflect.Struct && src.Type().ConvertibleTo(dst.Type()):
		dst.Set(src.Convert(dst.Type())) // refNumber, refBool, refTime, time.Time
	case src.Kind() == reflect.Struct:
		if src.NumField() != dst.NumField() {
			panic(fmt.Sprintf("mirror %s has %d fields, %s %d", src.Type(), src.NumField(), dst.Type(), dst.NumField()))
		}
		for i := 0; i < src.NumField(); i++ {
			sf, df := src.Type().Field(i), dst.Type().Field(i)
			if sf.Tag != df.Tag || sf.Anonymous != df.Anonymous || !sf.Anonymous && sf.Name != df.Name {
				panic(fmt.Sprintf("mirror field %s.%s %q does not match %s.%s %q", src.Type(), sf.Name, sf.Tag, dst.Type(), df.Name, df.Tag))
			}
			mirrorCopy(dst.Field(i), src.Field(i))
		}
	case src.Kind() == reflect.Pointer && src.Type().Elem().Kind() == reflect.Struct && src.Type() != dst.Type():
		if !src.IsNil() {
			dst.Set(reflect.New(dst.Type().Elem()))
			mirrorCopy(dst.Elem(), src.Elem())
		}
	case src.Kind() == reflect.Slice && !src.Type().ConvertibleTo(dst.Type()):
		if !src.IsNil() {
			dst.Set(reflect.MakeSlice(dst.Type(), src.Len(), src.Len()))
			for i := 0; i < src.Len(); i++ {
				mirrorCopy(dst.Index(i), src.Index(i))
			}
		}
	default:
		dst.Set(src.Convert(dst.Type())) // refText, refTexts, *time.Location
	}
}
