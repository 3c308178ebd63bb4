// Command strata runs every Strata process: meta nodes, data nodes, the
// operator CLI, a whole local cluster and the load generator.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "strata: "+err.Error())
		var usage *usageError
		if errors.As(err, &usage) {
			os.Exit(2) // a usage mistake, as flag packages and POSIX tools exit
		}
		os.Exit(1)
	}
}
