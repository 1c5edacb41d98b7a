package packet

// A differential test against Eclipse Paho's codecs, which were written
// independently of midge: github.com/eclipse/paho.golang/packets for MQTT 5.0
// and, since that package speaks only 5.0, the 3.1/3.1.1 codec of
// github.com/eclipse/paho.mqtt.golang/packets for the earlier versions.
//
// For each packet, hand-written or generated from a fixed seed (both in
// paho_cases_test.go), both ways:
//
//   - midge encodes, Paho decodes, and Paho's fields mapped onto midge's
//     structs must equal the packet midge encoded;
//   - the packet mapped onto Paho's structs is encoded by Paho, midge
//     decodes it, and midge's fields must equal the packet.
//
// "Equal" is field by field (diffPacket), with presence for the MQTT 5
// properties. expectAfter() says what the receiving side can see of a packet:
// what a version cannot carry, and the places where Paho differs from the
// spec, each with its clause (see also TestPahoDeviations).

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.golang/packets"
	paho3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// ---- MQTT 5.0: midge <-> paho.golang ----

// ptrIf returns &v when present, nil otherwise: paho.golang marks the
// presence of a numeric property with a non-nil pointer, midge with Has.
func ptrIf[T any](present bool, v T) *T {
	if !present {
		return nil
	}
	return &v
}

func toPahoProps(p *Properties) *paho.Properties {
	if p == nil {
		return nil
	}
	q := &paho.Properties{
		ContentType:           p.ContentType,
		ResponseTopic:         p.ResponseTopic,
		CorrelationData:       p.CorrelationData,
		AssignedClientID:      p.AssignedClientID,
		AuthMethod:            p.AuthMethod,
		AuthData:              p.AuthData,
		ResponseInfo:          p.ResponseInfo,
		ServerReference:       p.ServerReference,
		ReasonString:          p.ReasonString,
		PayloadFormat:         ptrIf(p.Has(PropPayloadFormat), p.PayloadFormat),
		MessageExpiry:         ptrIf(p.Has(PropMessageExpiry), p.MessageExpiry),
		SessionExpiryInterval: ptrIf(p.Has(PropSessionExpiry), p.SessionExpiry),
		ServerKeepAlive:       ptrIf(p.Has(PropServerKeepAlive), p.ServerKeepAlive),
		RequestProblemInfo:    ptrIf(p.Has(PropRequestProblemInfo), p.RequestProblemInfo),
		WillDelayInterval:     ptrIf(p.Has(PropWillDelay), p.WillDelay),
		RequestResponseInfo:   ptrIf(p.Has(PropRequestResponseInfo), p.RequestResponseInfo),
		ReceiveMaximum:        ptrIf(p.Has(PropReceiveMaximum), p.ReceiveMaximum),
		TopicAliasMaximum:     ptrIf(p.Has(PropTopicAliasMaximum), p.TopicAliasMaximum),
		TopicAlias:            ptrIf(p.Has(PropTopicAlias), p.TopicAlias),
		MaximumQOS:            ptrIf(p.Has(PropMaximumQoS), p.MaximumQoS),
		RetainAvailable:       ptrIf(p.Has(PropRetainAvailable), p.RetainAvailable),
		MaximumPacketSize:     ptrIf(p.Has(PropMaximumPacketSize), p.MaximumPacketSize),
		WildcardSubAvailable:  ptrIf(p.Has(PropWildcardSubAvailable), p.WildcardSubAvailable),
		SubIDAvailable:        ptrIf(p.Has(PropSubscriptionIDAvailable), p.SubscriptionIDAvailable),
		SharedSubAvailable:    ptrIf(p.Has(PropSharedSubAvailable), p.SharedSubAvailable),
	}
	// paho.golang holds one subscription identifier; see expectAfter.
	if n := len(p.SubscriptionIDs); n > 0 {
		q.SubscriptionIdentifier = &p.SubscriptionIDs[n-1]
	}
	for _, u := range p.User {
		q.User = append(q.User, paho.User{Key: u.Key, Value: u.Value})
	}
	return q
}

// setIf copies *src into *dst and marks property id present when src is set.
func setIf[T any](p *Properties, id PropID, dst *T, src *T) {
	if src != nil {
		*dst = *src
		p.Include(id)
	}
}

func fromPahoProps(q *paho.Properties) *Properties {
	if q == nil {
		return nil
	}
	p := &Properties{
		ContentType:      q.ContentType,
		ResponseTopic:    q.ResponseTopic,
		CorrelationData:  q.CorrelationData,
		AssignedClientID: q.AssignedClientID,
		AuthMethod:       q.AuthMethod,
		AuthData:         q.AuthData,
		ResponseInfo:     q.ResponseInfo,
		ServerReference:  q.ServerReference,
		ReasonString:     q.ReasonString,
	}
	setIf(p, PropPayloadFormat, &p.PayloadFormat, q.PayloadFormat)
	setIf(p, PropMessageExpiry, &p.MessageExpiry, q.MessageExpiry)
	setIf(p, PropSessionExpiry, &p.SessionExpiry, q.SessionExpiryInterval)
	setIf(p, PropServerKeepAlive, &p.ServerKeepAlive, q.ServerKeepAlive)
	setIf(p, PropRequestProblemInfo, &p.RequestProblemInfo, q.RequestProblemInfo)
	setIf(p, PropWillDelay, &p.WillDelay, q.WillDelayInterval)
	setIf(p, PropRequestResponseInfo, &p.RequestResponseInfo, q.RequestResponseInfo)
	setIf(p, PropReceiveMaximum, &p.ReceiveMaximum, q.ReceiveMaximum)
	setIf(p, PropTopicAliasMaximum, &p.TopicAliasMaximum, q.TopicAliasMaximum)
	setIf(p, PropTopicAlias, &p.TopicAlias, q.TopicAlias)
	setIf(p, PropMaximumQoS, &p.MaximumQoS, q.MaximumQOS)
	setIf(p, PropRetainAvailable, &p.RetainAvailable, q.RetainAvailable)
	setIf(p, PropMaximumPacketSize, &p.MaximumPacketSize, q.MaximumPacketSize)
	setIf(p, PropWildcardSubAvailable, &p.WildcardSubAvailable, q.WildcardSubAvailable)
	setIf(p, PropSubscriptionIDAvailable, &p.SubscriptionIDAvailable, q.SubIDAvailable)
	setIf(p, PropSharedSubAvailable, &p.SharedSubAvailable, q.SharedSubAvailable)
	if q.SubscriptionIdentifier != nil {
		p.SubscriptionIDs = []int{*q.SubscriptionIdentifier}
	}
	for _, u := range q.User {
		p.User = append(p.User, UserProperty{u.Key, u.Value})
	}
	return p
}

// toPaho maps a midge packet onto paho.golang's struct for it.
func toPaho(p Packet) paho.Packet {
	switch p := p.(type) {
	case *Connect:
		c := &paho.Connect{
			ProtocolName: "MQTT", ProtocolVersion: 5,
			CleanStart: p.CleanStart, KeepAlive: p.KeepAlive, ClientID: p.ClientID,
			UsernameFlag: p.UsernameFlag || p.Username != "", Username: p.Username,
			PasswordFlag: p.PasswordFlag || len(p.Password) != 0, Password: p.Password,
			Properties: toPahoProps(p.Props),
		}
		if w := p.Will; w != nil {
			c.WillFlag, c.WillTopic, c.WillMessage = true, w.Topic, w.Payload
			c.WillQOS, c.WillRetain = byte(w.QoS), w.Retain
			c.WillProperties = toPahoProps(w.Props)
		}
		return c
	case *Connack:
		return &paho.Connack{SessionPresent: p.SessionPresent, ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	case *Publish:
		return &paho.Publish{Topic: p.Topic, Payload: p.Payload, QoS: byte(p.QoS), Duplicate: p.Dup,
			Retain: p.Retain, PacketID: p.ID, Properties: toPahoProps(p.Props)}
	case *Puback:
		return &paho.Puback{PacketID: p.ID, ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	case *Pubrec:
		return &paho.Pubrec{PacketID: p.ID, ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	case *Pubrel:
		return &paho.Pubrel{PacketID: p.ID, ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	case *Pubcomp:
		return &paho.Pubcomp{PacketID: p.ID, ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	case *Subscribe:
		s := &paho.Subscribe{PacketID: p.ID, Properties: toPahoProps(p.Props)}
		for _, o := range p.Subscriptions {
			s.Subscriptions = append(s.Subscriptions, paho.SubOptions{Topic: o.Filter, QoS: byte(o.QoS),
				RetainHandling: o.RetainHandling, NoLocal: o.NoLocal, RetainAsPublished: o.RetainAsPublished})
		}
		return s
	case *Suback:
		return &paho.Suback{PacketID: p.ID, Reasons: reasonBytes(p.Reasons), Properties: toPahoProps(p.Props)}
	case *Unsubscribe:
		return &paho.Unsubscribe{PacketID: p.ID, Topics: p.Filters, Properties: toPahoProps(p.Props)}
	case *Unsuback:
		return &paho.Unsuback{PacketID: p.ID, Reasons: reasonBytes(p.Reasons), Properties: toPahoProps(p.Props)}
	case *Pingreq:
		return &paho.Pingreq{}
	case *Pingresp:
		return &paho.Pingresp{}
	case *Disconnect:
		return &paho.Disconnect{ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	case *Auth:
		return &paho.Auth{ReasonCode: byte(p.ReasonCode), Properties: toPahoProps(p.Props)}
	}
	panic(fmt.Sprintf("toPaho: %T", p))
}

// fromPaho maps a packet paho.golang decoded onto midge's struct for it.
func fromPaho(cp *paho.ControlPacket) Packet {
	switch q := cp.Content.(type) {
	case *paho.Connect:
		c := &Connect{
			Version:    Version(q.ProtocolVersion),
			CleanStart: q.CleanStart, KeepAlive: q.KeepAlive, ClientID: q.ClientID,
			UsernameFlag: q.UsernameFlag, Username: q.Username,
			PasswordFlag: q.PasswordFlag, Password: q.Password,
			Props: fromPahoProps(q.Properties),
		}
		if q.ProtocolName != c.Version.ProtocolName() {
			c.Version = 0 // shows as a difference
		}
		if q.WillFlag {
			c.Will = &Will{Topic: q.WillTopic, Payload: q.WillMessage, QoS: QoS(q.WillQOS),
				Retain: q.WillRetain, Props: fromPahoProps(q.WillProperties)}
		}
		return c
	case *paho.Connack:
		return &Connack{SessionPresent: q.SessionPresent, ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	case *paho.Publish:
		return &Publish{Topic: q.Topic, Payload: q.Payload, QoS: QoS(q.QoS), Dup: q.Duplicate,
			Retain: q.Retain, ID: q.PacketID, Props: fromPahoProps(q.Properties)}
	case *paho.Puback:
		return &Puback{ID: q.PacketID, ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	case *paho.Pubrec:
		return &Pubrec{ID: q.PacketID, ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	case *paho.Pubrel:
		return &Pubrel{ID: q.PacketID, ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	case *paho.Pubcomp:
		return &Pubcomp{ID: q.PacketID, ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	case *paho.Subscribe:
		s := &Subscribe{ID: q.PacketID, Props: fromPahoProps(q.Properties)}
		for _, o := range q.Subscriptions {
			s.Subscriptions = append(s.Subscriptions, Subscription{Filter: o.Topic, QoS: QoS(o.QoS),
				NoLocal: o.NoLocal, RetainAsPublished: o.RetainAsPublished, RetainHandling: o.RetainHandling})
		}
		return s
	case *paho.Suback:
		return &Suback{ID: q.PacketID, Reasons: reasonCodesOf(q.Reasons), Props: fromPahoProps(q.Properties)}
	case *paho.Unsubscribe:
		return &Unsubscribe{ID: q.PacketID, Filters: q.Topics, Props: fromPahoProps(q.Properties)}
	case *paho.Unsuback:
		return &Unsuback{ID: q.PacketID, Reasons: reasonCodesOf(q.Reasons), Props: fromPahoProps(q.Properties)}
	case *paho.Pingreq:
		return &Pingreq{}
	case *paho.Pingresp:
		return &Pingresp{}
	case *paho.Disconnect:
		return &Disconnect{ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	case *paho.Auth:
		return &Auth{ReasonCode: ReasonCode(q.ReasonCode), Props: fromPahoProps(q.Properties)}
	}
	panic(fmt.Sprintf("fromPaho: %T", cp.Content))
}

func reasonBytes(rs []ReasonCode) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, byte(r))
	}
	return b
}

func reasonCodesOf(b []byte) []ReasonCode {
	var rs []ReasonCode
	for _, c := range b {
		rs = append(rs, ReasonCode(c))
	}
	return rs
}

// ---- MQTT 3.1 and 3.1.1: midge <-> paho.mqtt.golang ----

// The CONNACK return codes of MQTT 3.1.1 section 3.2.2.3, as midge maps them
// to MQTT 5 (see Connack): 3.1.1 has six codes, MQTT 5 has 22.
var v3ConnackToV5 = [...]ReasonCode{Success, UnsupportedProtocolVersion, ClientIdentifierNotValid,
	ServerUnavailable, BadUserNameOrPassword, NotAuthorized}

func v3ConnackCode(rc ReasonCode) byte {
	switch rc {
	case Success:
		return 0
	case UnsupportedProtocolVersion:
		return 1
	case ClientIdentifierNotValid:
		return 2
	case BadUserNameOrPassword, BadAuthenticationMethod:
		return 4
	case NotAuthorized, Banned:
		return 5
	}
	return 3
}

func toPaho3(p Packet, v Version) paho3.ControlPacket {
	cp := paho3.NewControlPacket(byte(p.Type()))
	switch p := p.(type) {
	case *Connect:
		c := cp.(*paho3.ConnectPacket)
		c.ProtocolName, c.ProtocolVersion = v.ProtocolName(), byte(v)
		c.CleanSession, c.Keepalive, c.ClientIdentifier = p.CleanStart, p.KeepAlive, p.ClientID
		c.UsernameFlag, c.Username = p.UsernameFlag || p.Username != "", p.Username
		c.PasswordFlag, c.Password = p.PasswordFlag || len(p.Password) != 0, p.Password
		if w := p.Will; w != nil {
			c.WillFlag, c.WillTopic, c.WillMessage = true, w.Topic, w.Payload
			c.WillQos, c.WillRetain = byte(w.QoS), w.Retain
		}
	case *Connack:
		c := cp.(*paho3.ConnackPacket)
		c.SessionPresent, c.ReturnCode = p.SessionPresent, v3ConnackCode(p.ReasonCode)
	case *Publish:
		c := cp.(*paho3.PublishPacket)
		c.Qos, c.Dup, c.Retain = byte(p.QoS), p.Dup, p.Retain
		c.TopicName, c.MessageID, c.Payload = p.Topic, p.ID, p.Payload
	case *Puback:
		cp.(*paho3.PubackPacket).MessageID = p.ID
	case *Pubrec:
		cp.(*paho3.PubrecPacket).MessageID = p.ID
	case *Pubrel:
		cp.(*paho3.PubrelPacket).MessageID = p.ID
	case *Pubcomp:
		cp.(*paho3.PubcompPacket).MessageID = p.ID
	case *Subscribe:
		c := cp.(*paho3.SubscribePacket)
		c.MessageID = p.ID
		for _, s := range p.Subscriptions {
			c.Topics, c.Qoss = append(c.Topics, s.Filter), append(c.Qoss, byte(s.QoS))
		}
	case *Suback:
		c := cp.(*paho3.SubackPacket)
		c.MessageID = p.ID
		for _, rc := range p.Reasons {
			if rc.IsError() {
				rc = UnspecifiedError
			}
			c.ReturnCodes = append(c.ReturnCodes, byte(rc))
		}
	case *Unsubscribe:
		c := cp.(*paho3.UnsubscribePacket)
		c.MessageID, c.Topics = p.ID, p.Filters
	case *Unsuback:
		cp.(*paho3.UnsubackPacket).MessageID = p.ID
	case *Pingreq, *Pingresp, *Disconnect:
	default:
		panic(fmt.Sprintf("toPaho3: %T", p))
	}
	return cp
}

func fromPaho3(cp paho3.ControlPacket) Packet {
	switch q := cp.(type) {
	case *paho3.ConnectPacket:
		c := &Connect{
			Version:    Version(q.ProtocolVersion),
			CleanStart: q.CleanSession, KeepAlive: q.Keepalive, ClientID: q.ClientIdentifier,
			UsernameFlag: q.UsernameFlag, Username: q.Username,
			PasswordFlag: q.PasswordFlag, Password: q.Password,
		}
		if q.ProtocolName != c.Version.ProtocolName() || q.ReservedBit != 0 {
			c.Version = 0 // shows as a difference
		}
		if q.WillFlag {
			c.Will = &Will{Topic: q.WillTopic, Payload: q.WillMessage, QoS: QoS(q.WillQos), Retain: q.WillRetain}
		}
		return c
	case *paho3.ConnackPacket:
		rc := ReasonCode(0xFF) // not a 3.1.1 return code: shows as a difference
		if int(q.ReturnCode) < len(v3ConnackToV5) {
			rc = v3ConnackToV5[q.ReturnCode]
		}
		return &Connack{SessionPresent: q.SessionPresent, ReasonCode: rc}
	case *paho3.PublishPacket:
		return &Publish{Topic: q.TopicName, Payload: q.Payload, QoS: QoS(q.Qos), Dup: q.Dup, Retain: q.Retain, ID: q.MessageID}
	case *paho3.PubackPacket:
		return &Puback{ID: q.MessageID}
	case *paho3.PubrecPacket:
		return &Pubrec{ID: q.MessageID}
	case *paho3.PubrelPacket:
		return &Pubrel{ID: q.MessageID}
	case *paho3.PubcompPacket:
		return &Pubcomp{ID: q.MessageID}
	case *paho3.SubscribePacket:
		s := &Subscribe{ID: q.MessageID}
		for i, f := range q.Topics {
			s.Subscriptions = append(s.Subscriptions, Subscription{Filter: f, QoS: QoS(q.Qoss[i])})
		}
		return s
	case *paho3.SubackPacket:
		return &Suback{ID: q.MessageID, Reasons: reasonCodesOf(q.ReturnCodes)}
	case *paho3.UnsubscribePacket:
		return &Unsubscribe{ID: q.MessageID, Filters: q.Topics}
	case *paho3.UnsubackPacket:
		return &Unsuback{ID: q.MessageID}
	case *paho3.PingreqPacket:
		return &Pingreq{}
	case *paho3.PingrespPacket:
		return &Pingresp{}
	case *paho3.DisconnectPacket:
		return &Disconnect{}
	}
	panic(fmt.Sprintf("fromPaho3: %T", cp))
}

// ---- comparing ----

// diffPacket compares two packets field by field and returns one line per
// difference. Properties compare by presence (Has) as well as value; nil and
// empty slices are equal, and so are a nil and an empty *Properties.
func diffPacket(want, got Packet) []string {
	var out []string
	diffValue(want.Type().String(), reflect.ValueOf(want), reflect.ValueOf(got), &out)
	return out
}

var propsType = reflect.TypeFor[*Properties]()

func diffValue(path string, w, g reflect.Value, out *[]string) {
	if w.Type() != g.Type() {
		*out = append(*out, fmt.Sprintf("%s: want a %v, got a %v", path, w.Type(), g.Type()))
		return
	}
	if w.Type() == propsType {
		diffProps(path, w.Interface().(*Properties), g.Interface().(*Properties), out)
		return
	}
	switch w.Kind() {
	case reflect.Pointer:
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: want nil %v, got nil %v", path, w.IsNil(), g.IsNil()))
			}
			return
		}
		diffValue(path, w.Elem(), g.Elem(), out)
	case reflect.Struct:
		for i := range w.NumField() {
			if f := w.Type().Field(i); f.IsExported() {
				diffValue(path+"."+f.Name, w.Field(i), g.Field(i), out)
			}
		}
	case reflect.Slice:
		if w.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(w.Bytes(), g.Bytes()) {
				*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, shortBytes(w.Bytes()), shortBytes(g.Bytes())))
			}
			return
		}
		if w.Len() != g.Len() {
			*out = append(*out, fmt.Sprintf("%s: want %d elements %v, got %d %v", path, w.Len(), w, g.Len(), g))
			return
		}
		for i := range w.Len() {
			diffValue(fmt.Sprintf("%s[%d]", path, i), w.Index(i), g.Index(i), out)
		}
	default:
		if w.Interface() != g.Interface() {
			*out = append(*out, fmt.Sprintf("%s: want %#v, got %#v", path, w.Interface(), g.Interface()))
		}
	}
}

func diffProps(path string, w, g *Properties, out *[]string) {
	for id := range PropID(len(propInfo)) {
		if propInfo[id].name != "" && w.Has(id) != g.Has(id) {
			*out = append(*out, fmt.Sprintf("%s: %v present %v, got %v", path, id, w.Has(id), g.Has(id)))
		}
	}
	var zero Properties
	if w == nil {
		w = &zero
	}
	if g == nil {
		g = &zero
	}
	diffValue(path, reflect.ValueOf(*w), reflect.ValueOf(*g), out)
}

// describePacket prints a packet with its pointers followed and zero fields left
// out, for failure messages.
func describePacket(p Packet) string {
	var b strings.Builder
	b.WriteString(p.Type().String())
	describeValue(&b, reflect.ValueOf(p))
	return b.String()
}

func describeValue(b *strings.Builder, v reflect.Value) {
	switch {
	case v.Kind() == reflect.Pointer:
		describeValue(b, v.Elem())
	case v.Kind() == reflect.Struct:
		b.WriteString("{")
		sep := ""
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && !v.Field(i).IsZero() {
				fmt.Fprintf(b, "%s%s:", sep, f.Name)
				describeValue(b, v.Field(i))
				sep = " "
			}
		}
		b.WriteString("}")
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		b.WriteString(shortBytes(v.Bytes()))
	case v.Kind() == reflect.Slice:
		b.WriteString("[")
		for i := range v.Len() {
			if i > 0 {
				b.WriteString(" ")
			}
			describeValue(b, v.Index(i))
		}
		b.WriteString("]")
	case v.Kind() == reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%#v", v.Interface())
	}
}

func shortBytes(b []byte) string {
	if len(b) > 24 {
		return fmt.Sprintf("%q…(%d bytes)", b[:24], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// direction is the way a packet goes through the two codecs.
type direction int

const (
	midgeToPaho direction = iota // midge encodes, Paho decodes
	pahoToMidge                  // Paho encodes, midge decodes
)

func (d direction) String() string { return [...]string{"midge→paho", "paho→midge"}[d] }

// expectAfter returns what the receiving codec can see of p sent at version v:
// the fields v has, and, for MQTT 5, what paho.golang can carry. It never
// changes p.
func expectAfter(p Packet, v Version, dir direction) Packet {
	props := func(pp *Properties) *Properties {
		if v < V5 || pp == nil {
			return nil
		}
		c := *pp
		// paho.golang's Properties holds one Subscription Identifier, and
		// keeps the last it reads. MQTT 5.0 section 3.3.2.3.8 lets a
		// PUBLISH carry several, one per matching subscription
		// [MQTT-3.3.4-3]: a Paho limitation; compare the last one only.
		if n := len(c.SubscriptionIDs); n > 1 {
			c.SubscriptionIDs = c.SubscriptionIDs[n-1:]
		}
		return &c
	}
	ack := func(rc *ReasonCode, pp **Properties) {
		if v < V5 {
			*rc = Success
		}
		*pp = props(*pp)
	}
	// A shallow copy: fields are replaced below, never written through.
	c := reflect.New(reflect.TypeOf(p).Elem())
	c.Elem().Set(reflect.ValueOf(p).Elem())
	switch q := c.Interface().(type) {
	case *Connect:
		q.Version = v
		q.UsernameFlag = q.UsernameFlag || q.Username != ""
		q.PasswordFlag = q.PasswordFlag || len(q.Password) != 0
		q.Props = props(q.Props)
		if q.Will != nil {
			w := *q.Will
			w.Props = props(w.Props)
			if dir == pahoToMidge && w.Props != nil {
				// paho.golang packs will properties with the CONNECT
				// rules (Properties.Pack(CONNECT)), which drop the five
				// that only PUBLISH and the will share. MQTT 5.0 section
				// 3.1.3.2 allows them in the Will Properties: a Paho bug
				// when encoding; Paho decodes them correctly.
				wp := *w.Props
				wp.PayloadFormat, wp.MessageExpiry, wp.ContentType = 0, 0, ""
				wp.ResponseTopic, wp.CorrelationData = "", nil
				wp.included &^= 1<<PropPayloadFormat | 1<<PropMessageExpiry | 1<<PropContentType |
					1<<PropResponseTopic | 1<<PropCorrelationData
				w.Props = &wp
			}
			q.Will = &w
		}
	case *Connack:
		if v < V5 {
			q.ReasonCode = v3ConnackToV5[v3ConnackCode(q.ReasonCode)]
			if v == V31 {
				q.SessionPresent = false // 3.1 has no such flag
			}
		}
		q.Props = props(q.Props)
	case *Publish:
		q.Props = props(q.Props)
	case *Puback:
		ack(&q.ReasonCode, &q.Props)
	case *Pubrec:
		ack(&q.ReasonCode, &q.Props)
	case *Pubrel:
		ack(&q.ReasonCode, &q.Props)
	case *Pubcomp:
		ack(&q.ReasonCode, &q.Props)
	case *Subscribe:
		q.Props = props(q.Props)
		if v < V5 { // the MQTT 5 subscription options do not exist before 5
			q.Subscriptions = nil
			for _, s := range p.(*Subscribe).Subscriptions {
				q.Subscriptions = append(q.Subscriptions, Subscription{Filter: s.Filter, QoS: s.QoS})
			}
		}
	case *Suback:
		q.Props = props(q.Props)
		if v < V5 { // 3.1.1 has one failure code, 0x80 (section 3.9.3)
			q.Reasons = nil
			for _, rc := range p.(*Suback).Reasons {
				if rc.IsError() {
					rc = UnspecifiedError
				}
				q.Reasons = append(q.Reasons, rc)
			}
		}
	case *Unsubscribe:
		q.Props = props(q.Props)
	case *Unsuback:
		q.Props = props(q.Props)
		if v < V5 {
			q.Reasons = nil
		}
	case *Disconnect:
		ack(&q.ReasonCode, &q.Props)
	case *Auth:
		q.Props = props(q.Props)
	}
	return c.Interface().(Packet)
}

// ---- the two directions ----

// pahoDecode decodes b with the Paho codec for v.
func pahoDecode(b []byte, v Version) (Packet, error) {
	r := bytes.NewReader(b)
	var got Packet
	if v == V5 {
		cp, err := paho.ReadPacket(r)
		if err != nil {
			return nil, err
		}
		got = fromPaho(cp)
	} else {
		cp, err := paho3.ReadPacket(r)
		if err != nil {
			return nil, err
		}
		got = fromPaho3(cp)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d bytes left after the packet", r.Len())
	}
	return got, nil
}

// pahoEncode encodes p with the Paho codec for v.
func pahoEncode(p Packet, v Version) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if v == V5 {
		_, err = toPaho(p).WriteTo(&buf)
	} else {
		err = toPaho3(p, v).Write(&buf)
	}
	return buf.Bytes(), err
}

// pahoSkipsDecode reports whether b is a packet paho.golang fails to decode
// although it is well formed, so that only its other direction is checked.
func pahoSkipsDecode(b []byte, v Version) bool {
	// A DISCONNECT of Remaining Length 0: MQTT 5.0 section 3.14.2.1 lets
	// the sender omit Reason Code 0x00 and the Property Length, but
	// paho.golang's Disconnect.Unpack always reads the reason code and
	// fails with EOF. A Paho bug (see TestPahoDeviations).
	return v == V5 && len(b) == 2 && b[0] == byte(TypeDisconnect)<<4 && b[1] == 0
}

// crossCheck runs p through both directions at version v and returns the
// problems found.
func crossCheck(p Packet, v Version) []string {
	var probs []string
	b, err := p.Append(nil, v)
	if err != nil {
		return []string{fmt.Sprintf("midge cannot encode it: %v", err)}
	}
	if !pahoSkipsDecode(b, v) {
		got, err := pahoDecode(b, v)
		if err != nil {
			probs = append(probs, fmt.Sprintf("%v: Paho cannot decode % x: %v", midgeToPaho, b, err))
		} else {
			for _, d := range diffPacket(expectAfter(p, v, midgeToPaho), got) {
				probs = append(probs, fmt.Sprintf("%v: %s", midgeToPaho, d))
			}
		}
	}
	pb, err := pahoEncode(p, v)
	if err != nil {
		return append(probs, fmt.Sprintf("Paho cannot encode it: %v", err))
	}
	got, n, err := Decode(pb, v, 0)
	switch {
	case err != nil:
		probs = append(probs, fmt.Sprintf("%v: midge cannot decode % x: %v", pahoToMidge, pb, err))
	case n != len(pb):
		probs = append(probs, fmt.Sprintf("%v: midge took %d of %d bytes", pahoToMidge, n, len(pb)))
	default:
		for _, d := range diffPacket(expectAfter(p, v, pahoToMidge), got) {
			probs = append(probs, fmt.Sprintf("%v: %s", pahoToMidge, d))
		}
	}
	return probs
}

// ---- the tests ----

func TestPaho(t *testing.T) {
	for _, tc := range pahoCases() {
		t.Run(tc.v.String()+"/"+tc.name, func(t *testing.T) {
			for _, prob := range crossCheck(tc.p, tc.v) {
				t.Error(prob)
			}
		})
	}
}

func TestPahoRandom(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for _, v := range []Version{V31, V311, V5} {
		t.Run(v.String(), func(t *testing.T) {
			g := packetGen{rand.New(rand.NewPCG(0x6d69646765, uint64(v)))}
			types := typesIn(v)
			failed := 0
			var stream []byte
			var want []Packet
			for i := range n {
				p := g.packet(types[i%len(types)], v)
				probs := crossCheck(p, v)
				if len(probs) == 0 {
					b, _ := pahoEncode(p, v)
					stream, want = append(stream, b...), append(want, expectAfter(p, v, pahoToMidge))
					continue
				}
				t.Errorf("packet %d: %s\n\t%s", i, describePacket(p), strings.Join(probs, "\n\t"))
				if failed++; failed == 10 {
					t.Fatal("too many failures")
				}
			}
			streamCheck(t, g, stream, want, v)
		})
	}
}

// streamCheck reads Paho's packets back from one stream, with a Reader and
// with a Parser fed in random chunks.
func streamCheck(t *testing.T, g packetGen, stream []byte, want []Packet, v Version) {
	t.Helper()
	r := NewReader(bytes.NewReader(stream), 16)
	r.Version = v
	for i, w := range want {
		got, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("Reader, packet %d: %v", i, err)
		}
		if d := diffPacket(w, got); d != nil {
			t.Fatalf("Reader, packet %d:\n\t%s", i, strings.Join(d, "\n\t"))
		}
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("Reader at the end: %v, want EOF", err)
	}
	ps := &Parser{Version: v}
	i := 0
	for rest := stream; len(rest) > 0; {
		n := min(len(rest), 1+g.IntN(100))
		ps.Write(rest[:n])
		rest = rest[n:]
		for {
			got, err := ps.Next()
			if err != nil {
				t.Fatalf("Parser, packet %d: %v", i, err)
			}
			if got == nil {
				break
			}
			if d := diffPacket(want[i], got); d != nil {
				t.Fatalf("Parser, packet %d:\n\t%s", i, strings.Join(d, "\n\t"))
			}
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("Parser gave %d packets, want %d", i, len(want))
	}
}

// TestPahoDeviations pins down, one by one, where Paho departs from the spec;
// the cross-check works around each in expectAfter or pahoSkipsDecode.
func TestPahoDeviations(t *testing.T) {
	t.Run("paho.golang cannot decode an empty DISCONNECT", func(t *testing.T) {
		// MQTT 5.0 section 3.14.2.1: "The Reason Code and Property Length
		// can be omitted if the Reason Code is 0x00 (Normal disconnecton)
		// and there are no Properties."
		b, _ := (&Disconnect{}).Append(nil, V5)
		if !bytes.Equal(b, []byte{0xE0, 0x00}) {
			t.Fatalf("midge encodes % x", b)
		}
		if _, err := paho.ReadPacket(bytes.NewReader(b)); err == nil {
			t.Error("paho.golang now decodes it: drop the exception in pahoSkipsDecode")
		}
	})
	t.Run("paho.golang drops will properties shared with PUBLISH", func(t *testing.T) {
		// MQTT 5.0 section 3.1.3.2 lists Payload Format Indicator, Message
		// Expiry Interval, Content Type, Response Topic and Correlation
		// Data among the Will Properties.
		c := &paho.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, WillFlag: true, WillTopic: "w",
			WillProperties: &paho.Properties{ContentType: "text/plain"}}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		p, _, err := Decode(buf.Bytes(), V5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if w := p.(*Connect).Will; w.Props != nil && w.Props.ContentType != "" {
			t.Error("paho.golang now encodes them: drop the exception in expectAfter")
		}
	})
	t.Run("paho.golang keeps one subscription identifier", func(t *testing.T) {
		// MQTT 5.0 section 3.3.2.3.8 and [MQTT-3.3.4-3]: a PUBLISH may carry
		// several Subscription Identifiers.
		b, err := (&Publish{Topic: "t", Props: &Properties{SubscriptionIDs: []int{1, 2}}}).Append(nil, V5)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := paho.ReadPacket(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if id := cp.Content.(*paho.Publish).Properties.SubscriptionIdentifier; id == nil || *id != 2 {
			t.Errorf("paho.golang's subscription identifier is %v, not the last one", id)
		}
	})
}

// typesIn lists the packet types of version v.
func typesIn(v Version) []Type {
	ts := []Type{TypeConnect, TypeConnack, TypePublish, TypePuback, TypePubrec, TypePubrel,
		TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback, TypePingreq,
		TypePingresp, TypeDisconnect}
	if v == V5 {
		ts = append(ts, TypeAuth)
	}
	return ts
}
