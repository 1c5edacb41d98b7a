package topic

import (
	"fmt"
	"strings"

	"github.com/midge-mqtt/midge/packet"
)

// MaxLength is the longest topic name or filter MQTT can carry: a UTF-8
// string's two-byte length prefix.
const MaxLength = 0xFFFF

// SharePrefix starts a shared subscription's filter: $share/{group}/{filter}.
const SharePrefix = "$share/"

func invalidName(msg string) error {
	return &packet.Error{Code: packet.TopicNameInvalid, Msg: "topic name " + msg}
}

func invalidFilter(msg string) error {
	return &packet.Error{Code: packet.TopicFilterInvalid, Msg: "topic filter " + msg}
}

// ValidateName checks a topic name for PUBLISH: one or more characters
// [MQTT-4.7.3-1], no wildcards [MQTT-4.7.1-1], a valid UTF-8 string, at most
// 65,535 bytes. The error is a *packet.Error with code TopicNameInvalid.
func ValidateName(name string) error {
	switch {
	case name == "":
		return invalidName("is empty [MQTT-4.7.3-1]")
	case len(name) > MaxLength:
		return invalidName("is longer than 65,535 bytes")
	case strings.ContainsAny(name, "+#"):
		return invalidName(fmt.Sprintf("%q has a wildcard [MQTT-4.7.1-1]", name))
	case !packet.ValidString(name):
		return invalidName("is not a valid UTF-8 string [MQTT-1.5.4-1]")
	}
	return nil
}

// ValidateFilter checks a topic filter for SUBSCRIBE and UNSUBSCRIBE: one or
// more characters, '#' only alone as the last level [MQTT-4.7.1-2], '+' only
// alone in its level [MQTT-4.7.1-3], a valid UTF-8 string, at most 65,535
// bytes. A shared subscription's filter is checked by ParseShared. The error
// is a *packet.Error with code TopicFilterInvalid.
func ValidateFilter(filter string) error {
	switch {
	case filter == "":
		return invalidFilter("is empty [MQTT-4.7.3-1]")
	case len(filter) > MaxLength:
		return invalidFilter("is longer than 65,535 bytes")
	case !packet.ValidString(filter):
		return invalidFilter("is not a valid UTF-8 string [MQTT-1.5.4-1]")
	}
	start := 0
	for i := 0; i <= len(filter); i++ {
		if i < len(filter) && filter[i] != '/' {
			continue
		}
		level := filter[start:i]
		if strings.ContainsAny(level, "+#") && len(level) != 1 {
			return invalidFilter(fmt.Sprintf("%q has a wildcard that is not a whole level [MQTT-4.7.1-2] [MQTT-4.7.1-3]", filter))
		}
		if level == "#" && i != len(filter) {
			return invalidFilter(fmt.Sprintf("%q has '#' before its last level [MQTT-4.7.1-2]", filter))
		}
		start = i + 1
	}
	return nil
}

// ParseShared splits a shared subscription's filter "$share/{group}/{filter}"
// into its share name and topic filter. ok is false for a filter that is not
// shared. A shared filter with an empty share name, a share name with '/',
// '+' or '#' [MQTT-4.8.2-2], or no topic filter after it [MQTT-4.8.2-1] is an
// error, as is an invalid topic filter.
func ParseShared(filter string) (group, topicFilter string, ok bool, err error) {
	if !strings.HasPrefix(filter, SharePrefix) {
		return "", "", false, nil
	}
	rest := filter[len(SharePrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return "", "", true, invalidFilter(fmt.Sprintf("%q has no topic filter after its share name [MQTT-4.8.2-1]", filter))
	}
	group, topicFilter = rest[:slash], rest[slash+1:]
	if group == "" || strings.ContainsAny(group, "+#") {
		return "", "", true, invalidFilter(fmt.Sprintf("%q has an invalid share name [MQTT-4.8.2-2]", filter))
	}
	if err := ValidateFilter(topicFilter); err != nil {
		return "", "", true, err
	}
	return group, topicFilter, true, nil
}

// Match reports whether topic name matches topic filter. A name that starts
// with '$' is not matched by a filter whose first level is a wildcard
// [MQTT-4.7.2-1]. Both are assumed valid.
func Match(filter, name string) bool {
	if name != "" && name[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := cut(filter)
		if fl == "#" {
			return true // matches the parent level and everything under it
		}
		nl, nrest, nmore := cut(name)
		if fl != "+" && fl != nl {
			return false
		}
		if !fmore || !nmore {
			// "a/#" matches "a": the filter's next level is a lone '#'.
			return fmore == nmore || (fmore && frest == "#")
		}
		filter, name = frest, nrest
	}
}

// cut splits s at its first '/': the first level, the rest, and whether
// there was a separator.
func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
