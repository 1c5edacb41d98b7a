package topic

import (
	"errors"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"a/b/c", true},
		{"/", true},
		{"a//b", true},
		{"$SYS/broker", true},
		{"sport/tennis player1", true},
		{"", false},
		{"a/+", false},
		{"a/#", false},
		{"a+", false},
		{"a\x00b", false},
		{"a\xed\xa0\x80", false}, // a UTF-16 surrogate in UTF-8
		{"\xff", false},
		{string(make([]byte, MaxLength+1)), false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, packet.TopicNameInvalid) {
			t.Errorf("ValidateName(%q) = %v, not TopicNameInvalid", tt.name, err)
		}
	}
}

func TestValidateFilter(t *testing.T) {
	tests := []struct {
		filter string
		ok     bool
	}{
		{"a", true},
		{"#", true},
		{"+", true},
		{"a/#", true},
		{"+/+", true},
		{"/+", true},
		{"+/tennis/#", true},
		{"sport/+/player1", true},
		{"a//b", true},
		{"$SYS/#", true},
		{"", false},
		{"sport/tennis#", false},          // [MQTT-4.7.1-2]
		{"sport/tennis/#/ranking", false}, // '#' must be last
		{"sport+", false},                 // [MQTT-4.7.1-3]
		{"a/b+/c", false},
		{"#/a", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		err := ValidateFilter(tt.filter)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateFilter(%q) = %v, want ok=%v", tt.filter, err, tt.ok)
		}
		if err != nil && !errors.Is(err, packet.TopicFilterInvalid) {
			t.Errorf("ValidateFilter(%q) = %v, not TopicFilterInvalid", tt.filter, err)
		}
	}
}

func TestParseShared(t *testing.T) {
	tests := []struct {
		in, group, filter string
		shared, ok        bool
	}{
		{"a/b", "", "", false, true},
		{"$share/g/a/b", "g", "a/b", true, true},
		{"$share/g/#", "g", "#", true, true},
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", true, true},
		{"$share/g", "", "", true, false},    // no filter [MQTT-4.8.2-1]
		{"$share//a", "", "", true, false},   // empty share name
		{"$share/g+/a", "", "", true, false}, // wildcard in share name [MQTT-4.8.2-2]
		{"$share/g/a#", "", "", true, false}, // invalid filter
		{"$share/g/", "", "", true, false},   // empty filter
		{"$shared/g/a", "", "", false, true}, // not the prefix
	}
	for _, tt := range tests {
		g, f, shared, err := ParseShared(tt.in)
		if shared != tt.shared || (err == nil) != tt.ok || g != tt.group || f != tt.filter {
			t.Errorf("ParseShared(%q) = %q, %q, %v, %v; want %q, %q, %v, ok=%v",
				tt.in, g, f, shared, err, tt.group, tt.filter, tt.shared, tt.ok)
		}
	}
}

// matchCases are the examples of MQTT 5.0 section 4.7 and the edge cases
// around them.
var matchCases = []struct {
	filter, name string
	want         bool
}{
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/#", "sport", true},
	{"#", "sport/tennis", true},
	{"#", "/", true},
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},
	{"+", "a", true},
	{"+/#", "a", true},
	{"a/+/#", "a", false},
	{"a/+/#", "a/b", true},
	{"a/b", "a/b", true},
	{"a/b", "a/b/c", false},
	{"a/b/c", "a/b", false},
	{"a//b", "a//b", true},
	{"a/+/b", "a//b", true},
	{"#", "$SYS/x", false}, // [MQTT-4.7.2-1]
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS", true},
	{"a/$b", "a/$b", true},
	{"a/+", "a/$b", true}, // the '$' rule is for the first level only
}

func TestMatch(t *testing.T) {
	for _, tt := range matchCases {
		if got := Match(tt.filter, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.filter, tt.name, got, tt.want)
		}
	}
}
