// pause: the sandbox ("infra") container of every pod on the test node, doing what
// kubernetes/build/pause/linux/pause.c does: hold the pod's namespaces, reap zombies (it is
// PID 1 when the pod shares its process namespace), exit 0 on SIGINT/SIGTERM. Imports neither
// net nor os/user, so the Go toolchain links it statically: the pause image holds this one file.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
