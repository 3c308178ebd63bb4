// Command strata runs every Strata process: meta nodes, data nodes, the
// operator CLI, a whole local cluster and the load generator.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata: "+err.Error())
		os.Exit(1)
	}
}
