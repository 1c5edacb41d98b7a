package packet

// ValidString reports whether s is a string MQTT allows on the wire:
// well-formed UTF-8 without surrogates and without U+0000 [MQTT-1.5.4-1]
// [MQTT-1.5.4-2]. It does not check the 65,535-byte length limit.
func ValidString(s string) bool { return validString(s) }
