// Command midge is the midge MQTT broker daemon.
//
// The broker itself is not built yet: this release carries the codec
// (package packet) and the connection layer (package mqtt) it will stand on.
// Until then the command says so and exits.
package main

import (
	"flag"
	"fmt"
	"os"
)

// version is the daemon's version, set at build time with
// -ldflags "-X main.version=…".
var version = "dev"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("midge", version)
		return
	}
	fmt.Fprintf(os.Stderr, "midge %s: the broker is not built yet.\n", version)
	fmt.Fprintln(os.Stderr, "This release has the MQTT codec (package packet) and the connection layer (package mqtt); see README.md.")
}
