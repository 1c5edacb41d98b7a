package packet

import (
	"reflect"
	"testing"
)

func TestSmokeRoundTrip(t *testing.T) {
	pkts := []Packet{
		&Connect{Version: V5, CleanStart: true, KeepAlive: 30, ClientID: "c1", Username: "u", Password: []byte("p"),
			Will: &Will{Topic: "w/t", Payload: []byte("bye"), QoS: 1, Props: &Properties{WillDelay: 5}},
			Props: &Properties{SessionExpiry: 60, User: []UserProperty{{"a", "b"}, {"a", "c"}}}},
		&Connack{SessionPresent: true, Props: &Properties{MaximumQoS: 0, RetainAvailable: 0}},
		&Publish{Topic: "a/b", Payload: []byte("hi"), QoS: 1, ID: 7, Props: &Properties{ContentType: "text", MessageExpiry: 9, SubscriptionIDs: []int{1, 300}}},
		&Puback{ID: 7, ReasonCode: NoMatchingSubscribers},
		&Pubrel{ID: 7},
		&Subscribe{ID: 9, Subscriptions: []Subscription{{Filter: "a/#", QoS: 2, NoLocal: true, RetainHandling: 2}}},
		&Suback{ID: 9, Reasons: []ReasonCode{GrantedQoS2, NotAuthorized}},
		&Unsubscribe{ID: 9, Filters: []string{"a/#"}},
		&Unsuback{ID: 9, Reasons: []ReasonCode{NoSubscriptionExisted}},
		&Pingreq{}, &Pingresp{},
		&Disconnect{ReasonCode: ServerShuttingDown, Props: &Properties{ReasonString: "bye"}},
		&Auth{ReasonCode: ContinueAuthentication, Props: &Properties{AuthMethod: "SCRAM", AuthData: []byte{1, 2}}},
	}
	for _, p := range pkts {
		b, err := p.Append(nil, V5)
		if err != nil {
			t.Fatalf("%v: %v", p.Type(), err)
		}
		q, n, err := Decode(b, V5, 0)
		if err != nil || n != len(b) {
			t.Fatalf("%v: decode %v n=%d/%d", p.Type(), err, n, len(b))
		}
		b2, _ := q.Append(nil, V5)
		if !reflect.DeepEqual(b, b2) {
			t.Errorf("%v: re-encode differs\n%x\n%x", p.Type(), b, b2)
		}
	}
}
