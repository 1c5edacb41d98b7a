package listener_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/coder/websocket"

	"github.com/midge-mqtt/midge/listener"
)

// Each Spec of a configuration file becomes a listener; an MQTT server
// serves each the same way, with Serve(l).
func ExampleListen() {
	dir, err := os.MkdirTemp("", "midge")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	specs := []listener.Spec{
		{Kind: "tcp", Addr: "127.0.0.1:0"},
		{Kind: "ws", Addr: "127.0.0.1:0", Path: "/mqtt"},
		{Kind: "unix", Addr: filepath.Join(dir, "mqtt.sock")},
	}
	for _, s := range specs {
		l, err := listener.Listen(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.Kind, l.Addr().Network())
		l.Close()
	}
	// Output:
	// tcp tcp
	// ws tcp
	// unix unix
}

// Behind HAProxy (send-proxy or send-proxy-v2), the connection reports the
// client's address, not the proxy's.
func ExampleProxyProtocol() {
	tcp, err := listener.TCP("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	l := listener.ProxyProtocol(tcp, nil)
	defer l.Close()

	// What the proxy does: connect, send the header, then the client's bytes.
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n"))
		c.Write([]byte{0xc0, 0x00}) // PINGREQ
	}()

	c, err := l.Accept()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 2)
	io.ReadFull(c, b)
	fmt.Println(c.RemoteAddr(), c.LocalAddr())
	fmt.Printf("% x\n", b)
	// Output:
	// 192.0.2.1:56324 198.51.100.2:1883
	// c0 00
}

// A program with its own HTTP server mounts MQTT over WebSocket next to its
// other handlers, and serves the handler as a listener.
func ExampleNewWebSocketHandler() {
	h := listener.NewWebSocketHandler(nil)
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/mqtt", h)
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	// An MQTT server would run Serve(h); here, one connection by hand.
	go func() {
		ws, _, err := websocket.Dial(context.Background(), "ws://"+ln.Addr().String()+"/mqtt",
			&websocket.DialOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			log.Fatal(err)
		}
		defer ws.CloseNow()
		fmt.Println("subprotocol:", ws.Subprotocol())
		ws.Write(context.Background(), websocket.MessageBinary, []byte{0xc0, 0x00})
		ws.Read(context.Background()) // until the server closes
	}()

	c, err := h.Accept()
	if err != nil {
		log.Fatal(err)
	}
	b := make([]byte, 2)
	io.ReadFull(c, b)
	fmt.Printf("% x\n", b)
	c.Close()
	// Output:
	// subprotocol: mqtt
	// c0 00
}
