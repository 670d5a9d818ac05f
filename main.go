// Command photovault is a self-hosted photo vault with client delivery.
package main

import (
	"os"

	"github.com/photovault/photovault/cmd"
)

func main() { os.Exit(cmd.Execute()) }
