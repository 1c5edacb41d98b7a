// Package packet is the MQTT codec: every control packet of MQTT 3.1
// (protocol name "MQIsdp", level 3), 3.1.1 (level 4) and 5.0 (level 5), with
// all MQTT 5 properties and reason codes. It has no goroutines and no policy.
//
// # Encoding
//
// Each packet type is a struct named after the spec (Connect, Publish,
// Suback, …) whose Append method encodes it for a protocol version onto a
// caller's buffer, allocating only when the buffer is too small:
//
//	buf, err := (&packet.Publish{Topic: "a/b", Payload: data, QoS: 1, ID: 7}).Append(buf[:0], packet.V311)
//
// # Decoding
//
// Decode takes a packet from a byte slice and reports io.ErrUnexpectedEOF
// when the slice holds only part of one; Parser does the same for a stream
// fed in chunks; Reader reads from an io.Reader through one reused buffer.
// All three check the maximum packet size from the fixed header, before
// allocating anything for the body, and give each packet exactly one
// allocation for its body: the strings and byte slices of a decoded packet
// point into it. (Reader grows the buffer of a body over 64 KiB as its bytes
// arrive, rather than trusting the announced length.)
//
// Decoding is strict: the fixed header flags, the remaining length, UTF-8
// strings (no U+0000, no surrogates), packet identifiers, property
// identifiers per packet type, duplicate properties, reason codes per packet
// type and topic names are all checked. A violation is an *Error carrying the
// MQTT 5 reason code the spec names (MalformedPacket, ProtocolError,
// PacketTooLarge, …); nothing a peer sends makes the decoder panic. (MQTT
// 3.1 alone may set DUP on PUBREL, SUBSCRIBE and UNSUBSCRIBE: its clients
// do on a retry.) Append checks the same rules on what it sends, UTF-8
// strings and property values included, and refuses with an *Error.
//
// # Reason codes across versions
//
// ReasonCode is the MQTT 5 reason code and implements error. midge keeps all
// codes in the MQTT 5 space, for every version: the CONNACK return codes of
// 3.1 and 3.1.1 are mapped to and from their MQTT 5 equivalents, and every
// SUBACK failure is 0x80 before MQTT 5.
//
// # Concurrency
//
// Packets are plain values: encode and decode them from any goroutine, but do
// not change a packet while another goroutine encodes it. Reader and Parser
// are for one goroutine at a time.
//
// # Caveats
//
// A decoded packet's strings alias its body: keeping one string keeps the
// whole packet in memory. Writing into a decoded Payload is allowed; it
// never overlaps the strings.
package packet
