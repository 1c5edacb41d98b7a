package broker

import (
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

var versions = []packet.Version{packet.V31, packet.V311}

func TestPublishSubscribeQoS(t *testing.T) {
	for _, v := range versions {
		for _, qos := range []packet.QoS{0, 1, 2} {
			t.Run(v.String()+"/QoS"+string('0'+byte(qos)), func(t *testing.T) {
				_, addr := startBroker(t, nil)
				sub, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "sub", CleanStart: true})
				if ack := sub.subscribe(1, packet.Subscription{Filter: "a/+", QoS: 2}); ack.Reasons[0] != 2 {
					t.Fatalf("granted %v", ack.Reasons)
				}
				pub, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "pub", CleanStart: true})
				pub.publish(&packet.Publish{Topic: "a/b", Payload: []byte("hello"), QoS: qos, ID: 7})
				switch qos {
				case 1:
					if a, ok := pub.next().(*packet.Puback); !ok || a.ID != 7 {
						t.Fatalf("no PUBACK 7: %+v", a)
					}
				case 2:
					if a, ok := pub.next().(*packet.Pubrec); !ok || a.ID != 7 {
						t.Fatalf("no PUBREC 7: %+v", a)
					}
					pub.Pubrel(&packet.Pubrel{ID: 7})
					if a, ok := pub.next().(*packet.Pubcomp); !ok || a.ID != 7 {
						t.Fatalf("no PUBCOMP 7: %+v", a)
					}
				}
				got := sub.nextPublish()
				if got.Topic != "a/b" || string(got.Payload) != "hello" || got.QoS != qos || got.Retain {
					t.Fatalf("delivered %+v", got)
				}
				switch qos {
				case 1:
					sub.Puback(&packet.Puback{ID: got.ID})
				case 2:
					sub.Pubrec(&packet.Pubrec{ID: got.ID})
					if r, ok := sub.next().(*packet.Pubrel); !ok || r.ID != got.ID {
						t.Fatalf("no PUBREL: %+v", r)
					}
					sub.Pubcomp(&packet.Pubcomp{ID: got.ID})
				}
				sub.expectNothing(100 * time.Millisecond)
			})
		}
	}
}
