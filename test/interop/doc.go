// Package interop tests midge against MQTT clients it did not write, over
// real sockets.
//
// The Go tests here run github.com/eclipse/paho.mqtt.golang (MQTT 3.1 and
// 3.1.1) against a broker served in-process on loopback TCP and WebSocket
// listeners: publish and subscribe at every QoS, wildcards, retained
// messages, wills, persistent sessions.
//
// run.sh runs the clients of other languages against the real daemon:
// Mosquitto's mosquitto_pub and mosquitto_sub (C) and MQTT.js (Node.js, the
// script mqttjs.js). scripts/test.sh runs it after the Go tests; it installs
// what it needs when it can, and says SKIP when it cannot (outside CI).
//
// The package has no API: it exists for its tests.
package interop
