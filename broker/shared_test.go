package broker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	"github.com/midge-mqtt/midge/store"
)

// shareQuiet is how long a shared subscription test waits to see that no more
// comes, once what should come has.
const shareQuiet = 300 * time.Millisecond

// member5 connects a raw MQTT 5 client with a clean start; props, if
// given, are the CONNECT's properties.
func member5(t *testing.T, addr, id string, props *packet.Properties) *brokertest.Client {
	t.Helper()
	return brokertest.MustConnect(t, addr, &packet.Connect{Version: packet.V5, ClientID: id, CleanStart: true, Props: props})
}

// share subscribes c to filter at qos and fails the test unless it is
// granted that QoS.
func share(t *testing.T, c *brokertest.Client, id uint16, filter string, qos packet.QoS) {
	t.Helper()
	ack := c.MustSubscribe(id, packet.Subscription{Filter: filter, QoS: qos})
	if ack.Reasons[0] != packet.ReasonCode(qos) {
		t.Fatalf("SUBACK for %s: %v, want QoS %d", filter, ack.Reasons[0], qos)
	}
}

var publishers atomic.Int64

// publishN publishes n messages to topic at qos from a new client, with
// payloads "0" to "n-1", and returns when the broker has acknowledged them
// all (it routes a message before it acknowledges it).
func publishN(t *testing.T, addr, topic string, qos packet.QoS, n int) {
	t.Helper()
	p := connect(t, addr, fmt.Sprint("pub", publishers.Add(1)), packet.V311, true)
	for i := range n {
		pub := &packet.Publish{Topic: topic, Payload: fmt.Appendf(nil, "%d", i), QoS: qos}
		if qos > 0 {
			pub.ID = uint16(i + 1)
		}
		p.MustPublish(pub)
	}
}

// waitOffline waits until the broker has taken the connection off the
// session of client id: the end of a connection is handled after the
// client sees it close.
func waitOffline(t *testing.T, b *Broker, id string) {
	t.Helper()
	for deadline := time.Now().Add(brokertest.Wait); b.sessions.Session(id).Conn() != nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("session %q still connected", id)
		}
	}
}

// gather takes the PUBLISH packets that reach the members until n have come
// to them all, acknowledging each when ack says so, then checks that no
// more come. It returns each member's, in order.
func gather(t *testing.T, members []*brokertest.Client, n int, ack bool) [][]*packet.Publish {
	t.Helper()
	got := make([][]*packet.Publish, len(members))
	total := 0
	deadline := time.Now().Add(brokertest.Wait)
	for total < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages reached the members, want %d", total, n)
		}
		for i, c := range members {
			p, err := c.Receive(10 * time.Millisecond)
			if err != nil {
				t.Fatalf("member %d: connection closed: %v", i, err)
			}
			if p == nil {
				continue
			}
			pub, ok := p.(*packet.Publish)
			if !ok {
				t.Fatalf("member %d got %v, want PUBLISH", i, p.Type())
			}
			got[i] = append(got[i], pub)
			total++
			if ack {
				c.Ack(pub)
			}
		}
	}
	for _, c := range members {
		c.ExpectNothing(shareQuiet)
	}
	return got
}

// payloads returns the payloads of ps, sorted.
func payloads(ps ...[]*packet.Publish) []string {
	var out []string
	for _, list := range ps {
		for _, p := range list {
			out = append(out, string(p.Payload))
		}
	}
	slices.Sort(out)
	return out
}

// wantAll checks that got holds each payload "0" to "n-1" exactly once.
func wantAll(t *testing.T, got []string, n int) {
	t.Helper()
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(i))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("payloads %v, want each of 0..%d once", got, n-1)
	}
}

func TestSharedEachMessageToOneMember(t *testing.T) {
	_, addr := startBroker(t, nil)
	a := member5(t, addr, "a", nil)
	b := connect(t, addr, "b", packet.V311, true)
	c := member5(t, addr, "c", nil)
	other := connect(t, addr, "other", packet.V311, true) // a second group on the same filter
	plain := connect(t, addr, "plain", packet.V311, true) // a non-shared subscription
	for _, m := range []*brokertest.Client{a, b, c} {
		share(t, m, 1, "$share/g/work/+", packet.AtLeastOnce)
	}
	share(t, other, 1, "$share/h/work/#", packet.AtLeastOnce)
	share(t, plain, 1, "work/+", packet.AtLeastOnce)

	const n = 30
	publishN(t, addr, "work/x", packet.AtLeastOnce, n)
	got := gather(t, []*brokertest.Client{a, b, c}, n, true)
	wantAll(t, payloads(got...), n)
	for i, list := range got {
		// One publisher, members all ready: the turn goes round exactly.
		if len(list) != n/3 {
			t.Errorf("member %d got %d messages, want %d (round robin)", i, len(list), n/3)
		}
	}
	wantAll(t, payloads(gather(t, []*brokertest.Client{other}, n, true)...), n)
	wantAll(t, payloads(gather(t, []*brokertest.Client{plain}, n, true)...), n)
}

func TestSharedAndNonSharedOverlap(t *testing.T) {
	// A client with a shared and a non-shared subscription that both match
	// gets a copy through each (MQTT 5 §4.8.2): they are two
	// subscriptions, not overlapping ones of one kind [MQTT-3.3.4-2].
	_, addr := startBroker(t, nil)
	c := member5(t, addr, "both", nil)
	share(t, c, 1, "t", packet.AtLeastOnce)
	share(t, c, 2, "$share/g/t", packet.AtLeastOnce)
	const n = 4
	publishN(t, addr, "t", packet.AtLeastOnce, n)
	got := payloads(gather(t, []*brokertest.Client{c}, 2*n, true)...)
	if want := []string{"0", "0", "1", "1", "2", "2", "3", "3"}; !slices.Equal(got, want) {
		t.Fatalf("payloads %v, want each twice: %v", got, want)
	}
}

func TestSharedQoSPerMember(t *testing.T) {
	// [MQTT-4.8.2-3]: each member gets the message at its own granted QoS.
	_, addr := startBroker(t, nil)
	var members []*brokertest.Client
	for q := range packet.QoS(3) {
		m := member5(t, addr, fmt.Sprintf("q%d", q), nil)
		share(t, m, 1, "$share/g/t", q)
		members = append(members, m)
	}
	const n = 9
	publishN(t, addr, "t", packet.ExactlyOnce, n)
	got := gather(t, members, n, true)
	wantAll(t, payloads(got...), n)
	for q, list := range got {
		if len(list) != n/3 {
			t.Errorf("member at QoS %d got %d messages, want %d", q, len(list), n/3)
		}
		for _, p := range list {
			if p.QoS != packet.QoS(q) {
				t.Errorf("member subscribed at QoS %d got a message at QoS %d", q, p.QoS)
			}
		}
	}
}

func TestSharedSubscriptionIdentifiers(t *testing.T) {
	// [MQTT-3.3.4-3]: each member's PUBLISH carries its own shared
	// subscription's identifier.
	_, addr := startBroker(t, nil)
	var members []*brokertest.Client
	for i, id := range []int{7, 8} {
		m := member5(t, addr, fmt.Sprint("m", i), nil)
		if err := m.Subscribe(&packet.Subscribe{ID: 1, Props: &packet.Properties{SubscriptionIDs: []int{id}},
			Subscriptions: []packet.Subscription{{Filter: "$share/g/t", QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
		m.FindAck(packet.TypeSuback, 1)
		members = append(members, m)
	}
	publishN(t, addr, "t", packet.AtLeastOnce, 2)
	got := gather(t, members, 2, true)
	for i, id := range []int{7, 8} {
		if len(got[i]) != 1 || got[i][0].Props == nil || !slices.Equal(got[i][0].Props.SubscriptionIDs, []int{id}) {
			t.Errorf("member %d: %+v, want one PUBLISH with subscription identifier %d", i, got[i], id)
		}
	}
}

func TestSharedRedeliveredWhenMemberSessionEnds(t *testing.T) {
	// MQTT 5 §4.8.2: a QoS 1 message whose member's session ends before it
	// acknowledged the message should go to another member.
	_, addr := startBroker(t, nil)
	a := member5(t, addr, "a", nil) // session expiry 0: ends with its connection
	b := connect(t, addr, "b", packet.V311, true)
	share(t, a, 1, "$share/g/t", packet.AtLeastOnce)
	share(t, b, 1, "$share/g/t", packet.AtLeastOnce)
	const n = 10
	publishN(t, addr, "t", packet.AtLeastOnce, n)
	got := gather(t, []*brokertest.Client{a, b}, n, false) // a acknowledges nothing
	if len(got[0]) == 0 {
		t.Fatal("a got nothing to leave unacknowledged")
	}
	for _, p := range got[1] {
		b.Ack(p)
	}
	a.Leave()
	again := gather(t, []*brokertest.Client{b}, len(got[0]), true)
	wantAll(t, payloads(got[1], again[0]), n)
	for _, p := range again[0] {
		if p.QoS != packet.AtLeastOnce {
			t.Errorf("redelivered at QoS %d, want 1", p.QoS)
		}
	}
}

func TestSharedQoS2SentIsNotRedelivered(t *testing.T) {
	// [MQTT-4.8.2-5]: a QoS 2 message sent to a member whose session ends
	// before the flow completes goes to no other member.
	_, addr := startBroker(t, nil)
	a := member5(t, addr, "a", nil)
	b := member5(t, addr, "b", nil)
	share(t, a, 1, "$share/g/t", packet.ExactlyOnce)
	share(t, b, 1, "$share/g/t", packet.ExactlyOnce)
	const n = 4
	publishN(t, addr, "t", packet.ExactlyOnce, n)
	got := gather(t, []*brokertest.Client{a, b}, n, false)
	if len(got[0]) != n/2 {
		t.Fatalf("a got %d messages, want %d", len(got[0]), n/2)
	}
	for _, p := range got[1] {
		b.Ack(p)
	}
	a.Leave()
	b.ExpectNothing(shareQuiet)
}

func TestSharedOfflineMemberKeepsItsMessages(t *testing.T) {
	// A persistent member that is only offline keeps what it was sent
	// (the spec allows waiting for it), and new messages go to the members
	// that are online.
	br, addr := startBroker(t, nil)
	a := connect(t, addr, "a", packet.V311, false)
	b := connect(t, addr, "b", packet.V311, true)
	share(t, a, 1, "$share/g/t", packet.AtLeastOnce)
	share(t, b, 1, "$share/g/t", packet.AtLeastOnce)
	publishN(t, addr, "t", packet.AtLeastOnce, 2)
	got := gather(t, []*brokertest.Client{a, b}, 2, false)
	if len(got[0]) != 1 || len(got[1]) != 1 {
		t.Fatalf("a got %d, b %d, want one each", len(got[0]), len(got[1]))
	}
	b.Ack(got[1][0])
	a.Leave() // unacknowledged, persistent
	waitOffline(t, br, "a")

	const n = 6
	publishN(t, addr, "t", packet.AtLeastOnce, n)
	wantAll(t, payloads(gather(t, []*brokertest.Client{b}, n, true)...), n)

	a = connect(t, addr, "a", packet.V311, false)
	p := a.NextPublish()
	if !p.Dup || string(p.Payload) != string(got[0][0].Payload) {
		t.Fatalf("a back: %+v, want its unacknowledged %q again with DUP", p, got[0][0].Payload)
	}
	a.Ack(p)
	a.ExpectNothing(shareQuiet)
	b.ExpectNothing(shareQuiet)
}

func TestSharedUnsubscribeLeavesGroup(t *testing.T) {
	_, addr := startBroker(t, nil)
	// a takes one message in flight at a time: the rest wait in its queue.
	a := member5(t, addr, "a", &packet.Properties{ReceiveMaximum: 1})
	share(t, a, 1, "$share/g/t", packet.AtLeastOnce)
	publishN(t, addr, "t", packet.AtLeastOnce, 3)
	first := a.NextPublish()
	b := connect(t, addr, "b", packet.V311, true)
	share(t, b, 1, "$share/g/t", packet.AtLeastOnce)

	a.MustUnsubscribe(2, "$share/g/t")
	// What a had queued goes to b; what it was sent stays with it, to
	// complete [MQTT-3.10.4-3].
	got := gather(t, []*brokertest.Client{b}, 2, true)
	if want := []string{"1", "2"}; !slices.Equal(payloads(got...), want) {
		t.Fatalf("b got %v, want a's queued %v", payloads(got...), want)
	}
	a.Ack(first)
	publishN(t, addr, "t", packet.AtLeastOnce, 3)
	wantAll(t, payloads(gather(t, []*brokertest.Client{b}, 3, true)...), 3)
	a.ExpectNothing(shareQuiet)

	if err := a.Unsubscribe(&packet.Unsubscribe{ID: 3, Filters: []string{"$share/g/t"}}); err != nil {
		t.Fatal(err)
	}
	if ack := a.FindAck(packet.TypeUnsuback, 3).(*packet.Unsuback); ack.Reasons[0] != packet.NoSubscriptionExisted {
		t.Errorf("second UNSUBSCRIBE: %v, want no subscription existed", ack.Reasons[0])
	}
}

func TestSharedFullWindowPassedOver(t *testing.T) {
	// A member whose in-flight window is full is passed over while another
	// has room: a slow member is not given more than it takes.
	_, addr := startBroker(t, nil)
	a := member5(t, addr, "a", &packet.Properties{ReceiveMaximum: 2})
	b := connect(t, addr, "b", packet.V311, true)
	share(t, a, 1, "$share/g/t", packet.AtLeastOnce)
	share(t, b, 1, "$share/g/t", packet.AtLeastOnce)
	const n = 10
	publishN(t, addr, "t", packet.AtLeastOnce, n)
	got := gather(t, []*brokertest.Client{a, b}, n, false) // nobody acknowledges
	if len(got[0]) != 2 || len(got[1]) != n-2 {
		t.Fatalf("a got %d, b %d, want 2 and %d", len(got[0]), len(got[1]), n-2)
	}
	wantAll(t, payloads(got...), n)
}

func TestSharedNoRetainedOnSubscribe(t *testing.T) {
	// MQTT 5 §4.8.2: no retained messages for a new shared subscription.
	_, addr := startBroker(t, nil)
	p := connect(t, addr, "p", packet.V311, true)
	p.MustPublish(&packet.Publish{Topic: "t", Payload: []byte("kept"), QoS: 1, ID: 1, Retain: true})
	// A topic name may start with "$share/" too: its retained message
	// matches the shared filter read as a plain one, and must not be sent
	// either.
	p.MustPublish(&packet.Publish{Topic: "$share/g/t", Payload: []byte("odd"), QoS: 1, ID: 2, Retain: true})
	m := member5(t, addr, "m", nil)
	share(t, m, 1, "$share/g/t", packet.AtLeastOnce)
	m.ExpectNothing(shareQuiet)
	// It is there: a plain subscription gets it.
	share(t, m, 2, "t", packet.AtLeastOnce)
	if got := m.NextPublish(); string(got.Payload) != "kept" || !got.Retain {
		t.Fatalf("plain subscription got %+v, want the retained message", got)
	}
}

func TestSharedNoLocalIsProtocolError(t *testing.T) {
	// [MQTT-3.8.3-4]
	_, addr := startBroker(t, nil)
	c := member5(t, addr, "c", nil)
	if err := c.Subscribe(&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "$share/g/t", QoS: 1, NoLocal: true}}}); err != nil {
		t.Fatal(err)
	}
	if d := brokertest.Expect[*packet.Disconnect](c); d.ReasonCode != packet.ProtocolError {
		t.Fatalf("DISCONNECT %v, want protocol error", d.ReasonCode)
	}
	c.ExpectClosed()
}

func TestSharedUnavailableOption(t *testing.T) {
	caps := stack.DefaultCapabilities()
	caps.SharedUnavailable = true
	_, addr := startBroker(t, &Options{Capabilities: &caps})
	for _, tc := range []struct {
		v    packet.Version
		want packet.ReasonCode
	}{{packet.V5, packet.SharedSubscriptionsNotSupported}, {packet.V311, packet.UnspecifiedError}} {
		c := brokertest.MustConnect(t, addr, &packet.Connect{Version: tc.v, ClientID: fmt.Sprint("c", tc.v), CleanStart: true})
		if ack := c.MustSubscribe(1, packet.Subscription{Filter: "$share/g/t", QoS: 1}); ack.Reasons[0] != tc.want {
			t.Errorf("%v: SUBACK %v, want %v", tc.v, ack.Reasons[0], tc.want)
		}
	}
}

func TestSharedStrategyOption(t *testing.T) {
	last := stack.ShareStrategyFunc(func(_ string, members []stack.Subscriber, _ uint64, _ *store.Message) int {
		return len(members) - 1
	})
	for _, tc := range []struct {
		name  string
		s     stack.ShareStrategy
		n     int
		check func(t *testing.T, counts []int)
	}{
		// Fewer than a window: the member picked has room for all.
		{"custom", last, 20, func(t *testing.T, counts []int) {
			if !slices.Equal(counts, []int{0, 0, 20}) {
				t.Errorf("counts %v, want all to the member that joined last", counts)
			}
		}},
		{"random", stack.ShareRandom{}, 90, func(t *testing.T, counts []int) {
			// Each member misses all 90 with probability (2/3)^90.
			if slices.Contains(counts, 0) {
				t.Errorf("counts %v: a member got nothing", counts)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startBroker(t, &Options{ShareStrategy: tc.s})
			var members []*brokertest.Client
			for i := range 3 {
				m := connect(t, addr, fmt.Sprint("m", i), packet.V311, true)
				share(t, m, 1, "$share/g/t", packet.AtLeastOnce)
				members = append(members, m)
			}
			publishN(t, addr, "t", packet.AtLeastOnce, tc.n)
			got := gather(t, members, tc.n, true)
			wantAll(t, payloads(got...), tc.n)
			var counts []int
			for _, list := range got {
				counts = append(counts, len(list))
			}
			tc.check(t, counts)
		})
	}
}

// TestSharedPahoMixedVersions runs one group with an MQTT 5 member
// (paho.golang) and an MQTT 3.1.1 member (paho.mqtt.golang), at different
// QoS.
func TestSharedPahoMixedVersions(t *testing.T) {
	_, addr := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()

	var mu sync.Mutex
	got := map[string][]string{} // member → payloads
	qos := map[string][]byte{}   // member → QoS received
	note := func(member, payload string, q byte) {
		mu.Lock()
		defer mu.Unlock()
		got[member] = append(got[member], payload)
		qos[member] = append(qos[member], q)
	}

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	v5 := paho5.NewClient(paho5.ClientConfig{Conn: nc, OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
		func(r paho5.PublishReceived) (bool, error) {
			note("v5", string(r.Packet.Payload), r.Packet.QoS)
			return true, nil
		}}})
	if _, err := v5.Connect(ctx, &paho5.Connect{ClientID: "v5", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v5.Disconnect(&paho5.Disconnect{})
		<-v5.Done()
	})
	if _, err := v5.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "$share/g/t", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}

	v3 := paho3.NewClient(paho3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("v311").
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ paho3.Client, m paho3.Message) { note("v311", string(m.Payload()), m.Qos()) }))
	if tok := v3.Connect(); !tok.WaitTimeout(brokertest.Wait) || tok.Error() != nil {
		t.Fatalf("paho 3.1.1 connect: %v", tok.Error())
	}
	t.Cleanup(func() { v3.Disconnect(0) })
	if tok := v3.Subscribe("$share/g/t", 1, nil); !tok.WaitTimeout(brokertest.Wait) || tok.Error() != nil {
		t.Fatalf("paho 3.1.1 subscribe: %v", tok.Error())
	}

	const n = 20
	publishN(t, addr, "t", packet.ExactlyOnce, n)
	for deadline := time.Now().Add(brokertest.Wait); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		total := len(got["v5"]) + len(got["v311"])
		mu.Unlock()
		if total >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages reached the members, want %d", total, n)
		}
	}
	time.Sleep(shareQuiet) // for any duplicate
	mu.Lock()
	defer mu.Unlock()
	all := slices.Concat(got["v5"], got["v311"])
	slices.Sort(all)
	wantAll(t, all, n)
	if len(got["v5"]) != n/2 || len(got["v311"]) != n/2 {
		t.Errorf("v5 got %d, v311 %d, want %d each", len(got["v5"]), len(got["v311"]), n/2)
	}
	for member, want := range map[string]byte{"v5": 2, "v311": 1} {
		for _, q := range qos[member] {
			if q != want {
				t.Errorf("%s got QoS %d, want %d", member, q, want)
			}
		}
	}
}
