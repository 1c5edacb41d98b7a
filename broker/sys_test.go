package broker

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
)

func TestSysHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   string
	}{{"given id", "broker-7"}, {"random id", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			b, addr := startBroker(t, &Options{ID: tc.id, HeartbeatInterval: 20 * time.Millisecond})
			ev := record(b)
			id := b.ID()
			if tc.id != "" && id != tc.id {
				t.Fatalf("ID %q, want %q", id, tc.id)
			}
			if tc.id == "" && !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
				t.Fatalf("ID %q is not a random UUID", id)
			}
			c := connect(t, addr, "c", packet.V311, true)
			c.MustSubscribe(1, packet.Subscription{Filter: "$SYS/+/heartbeat"})
			for range 2 {
				p := c.FindPublish()
				if p.Topic != "$SYS/"+id+"/heartbeat" || string(p.Payload) != id || p.QoS != 0 || p.Retain {
					t.Fatalf("heartbeat %+v", p)
				}
			}
			ev.wait(t, "Publish", func(e event) bool { return e.client == nil && e.msg.Topic == "$SYS/"+id+"/heartbeat" })
		})
	}
}

func TestSysClients(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, &Options{ID: "b1"})
			sys := connect(t, addr, "sys", packet.V311, true)
			sys.MustSubscribe(1, packet.Subscription{Filter: "$SYS/b1/#"})
			next := func(topic string) string {
				t.Helper()
				p := sys.FindPublish()
				if p.Topic != "$SYS/b1/"+topic {
					t.Fatalf("got %s %q, want %s", p.Topic, p.Payload, topic)
				}
				return string(p.Payload)
			}
			next("new/subscribers") // sys's own
			c := connect(t, addr, "x", v, false)
			if got := next("new/clients"); got != "x" {
				t.Fatalf("new/clients %q", got)
			}

			c.MustSubscribe(1, packet.Subscription{Filter: "a/b", QoS: 1}, packet.Subscription{Filter: "c/#", QoS: 2},
				packet.Subscription{Filter: "bad/#/x", QoS: 0})
			var subs struct {
				ClientID string `json:"clientId"`
				Subs     []struct {
					Topic string `json:"topic"`
					QoS   int    `json:"qos"`
				} `json:"subs"`
			}
			raw := next("new/subscribers")
			if err := json.Unmarshal([]byte(raw), &subs); err != nil {
				t.Fatalf("new/subscribers %s: %v", raw, err)
			}
			if subs.ClientID != "x" || len(subs.Subs) != 3 || subs.Subs[0].Topic != "a/b" || subs.Subs[0].QoS != 1 ||
				subs.Subs[1].Topic != "c/#" || subs.Subs[1].QoS != 2 || subs.Subs[2].QoS != 0x80 {
				t.Fatalf("new/subscribers %s", raw)
			}

			c.MustUnsubscribe(2, "a/b", "c/#")
			var unsubs struct {
				ClientID string   `json:"clientId"`
				Subs     []string `json:"subs"`
			}
			raw = next("new/unsubscribers")
			if err := json.Unmarshal([]byte(raw), &unsubs); err != nil {
				t.Fatalf("new/unsubscribers %s: %v", raw, err)
			}
			if unsubs.ClientID != "x" || len(unsubs.Subs) != 2 || unsubs.Subs[0] != "a/b" || unsubs.Subs[1] != "c/#" {
				t.Fatalf("new/unsubscribers %s", raw)
			}

			c.Leave()
			if got := next("disconnect/clients"); got != "x" {
				t.Fatalf("disconnect/clients %q", got)
			}
			// A client without an identifier is told by the one assigned.
			if v == packet.V311 {
				brokertest.MustConnect(t, addr, &packet.Connect{Version: v, CleanStart: true})
				if got := next("new/clients"); len(got) == 0 || len(got) > 23 {
					t.Fatalf("assigned id %q", got)
				}
			}
			_ = b
		})
	}
}

// TestSysNotMatchedByWildcards: "#" and "+/…" see no $SYS topic
// [MQTT-4.7.2-1].
func TestSysNotMatchedByWildcards(t *testing.T) {
	_, addr := startBroker(t, &Options{HeartbeatInterval: 20 * time.Millisecond})
	all := connect(t, addr, "all", packet.V311, true)
	all.MustSubscribe(1, packet.Subscription{Filter: "#"}, packet.Subscription{Filter: "+/+/heartbeat"},
		packet.Subscription{Filter: "+/#"})
	sys := connect(t, addr, "sys", packet.V311, true)
	sys.MustSubscribe(1, packet.Subscription{Filter: "$SYS/#"})
	for range 3 {
		sys.NextPublish()
	}
	all.ExpectNothing(quiet)
}
